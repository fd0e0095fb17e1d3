//! Attachment features: what the files are, by name, declared type, magic bytes and macro flag.
//!
//! Signature parts (`application/pgp-signature`, PKCS#7 signatures) are not attachments here:
//! they say which mail client and which community sent the message (in the corpus, technical
//! mailing lists), not what the message delivers. Sizes are not used: both corpora were trimmed
//! by message size.

use super::put;
use super::tables::{
    ARCHIVE_EXTENSIONS, DECOY_EXTENSIONS, HTML_EXTENSIONS, MACRO_EXTENSIONS, RISKY_EXTENSIONS,
    ZIP_DOCUMENT_EXTENSIONS,
};
use shrike_types::{Attachment, FileMagic};

super::feature_group! {
    "attachment" {
        Count => "att_count", "Attachments and inline non-text parts (signatures excluded)";
        RiskyExt => "att_risky_ext", "Attachments with an executable, script, shortcut, disk-image, macro-document, OneNote or HTML/SVG extension";
        DoubleExt => "att_double_ext", "Attachments named like a document but ending in a risky or archive extension (invoice.pdf.exe), or using a right-to-left override";
        Macro => "att_macro", "Office documents with macros (detected in the contents, or a macro-enabled extension)";
        HtmlSvg => "att_html_svg", "HTML or SVG attachments (by extension, declared type or contents)";
        Archive => "att_archive", "Archives and disk images (zip, rar, 7z, gz, iso, img, ... by extension or magic bytes)";
        ExecMagic => "att_exec_magic", "Attachments whose contents are a Windows PE or ELF executable";
        ExtMagicMismatch => "att_ext_magic_mismatch", "Attachments whose contents do not match their extension (a .pdf that is not a PDF, an executable named .txt)";
        Images => "att_image_count", "Image attachments and inline images";
        Pdfs => "att_pdf_count", "PDF attachments";
    }
}

fn is_signature(ct: &str) -> bool {
    matches!(
        ct,
        "application/pgp-signature"
            | "application/pkcs7-signature"
            | "application/x-pkcs7-signature"
    )
}

/// The magic types an extension promises, for the binary formats whose magic is reliable.
fn expected(ext: &str) -> Option<&'static [FileMagic]> {
    use FileMagic::*;
    Some(match ext {
        "pdf" => &[Pdf],
        "zip" | "docx" | "xlsx" | "pptx" | "docm" | "xlsm" | "pptm" | "jar" | "apk" | "odt"
        | "ods" | "odp" | "epub" => &[Zip],
        "doc" | "xls" | "ppt" | "msi" => &[Ole],
        "rar" => &[Rar],
        "7z" => &[SevenZip],
        "gz" | "tgz" => &[Gzip],
        "iso" => &[Iso],
        "exe" | "dll" | "scr" | "com" | "pif" | "cpl" | "sys" => &[Pe],
        "png" | "jpg" | "jpeg" | "gif" | "bmp" | "webp" => &[Image],
        _ => return None,
    })
}

/// Computes the attachment group into `out` (length `DEFS.len()`, zero-filled).
pub(super) fn extract(atts: &[Attachment], name_buf: &mut String, out: &mut [f32]) {
    let (
        mut count,
        mut risky,
        mut double,
        mut macros,
        mut html,
        mut archive,
        mut exec,
        mut mismatch,
        mut images,
        mut pdfs,
    ) = (0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32);
    for a in atts {
        let ct = a.content_type.as_deref().unwrap_or("").trim();
        if is_signature(ct) {
            continue;
        }
        count += 1;
        let raw = a.name.as_deref().unwrap_or("");
        let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
        name_buf.clear();
        name_buf.push_str(base.trim().trim_end_matches(['.', ' ']));
        name_buf.make_ascii_lowercase();
        let name = name_buf.as_str();
        let mut parts = name.rsplit('.');
        let ext = if name.contains('.') {
            parts.next().unwrap_or("").trim()
        } else {
            ""
        };
        let inner = if name.matches('.').count() >= 2 {
            parts.next().unwrap_or("").trim()
        } else {
            ""
        };
        let magic = a.magic;
        let is_exec_magic = matches!(magic, Some(FileMagic::Pe | FileMagic::Elf));
        let is_archive_ext = ARCHIVE_EXTENSIONS.contains(&ext);
        risky += u32::from(RISKY_EXTENSIONS.binary_search(&ext).is_ok());
        double += u32::from(
            (DECOY_EXTENSIONS.contains(&inner)
                && (RISKY_EXTENSIONS.binary_search(&ext).is_ok() || is_archive_ext))
                || name.contains('\u{202e}'),
        );
        macros += u32::from(a.has_macros == Some(true) || MACRO_EXTENSIONS.contains(&ext));
        html += u32::from(
            HTML_EXTENSIONS.contains(&ext)
                || matches!(ct, "text/html" | "image/svg+xml" | "application/xhtml+xml")
                || magic == Some(FileMagic::Html),
        );
        let archive_magic = match magic {
            Some(FileMagic::Rar | FileMagic::SevenZip | FileMagic::Gzip | FileMagic::Iso) => true,
            Some(FileMagic::Zip) => !ZIP_DOCUMENT_EXTENSIONS.contains(&ext),
            _ => false,
        };
        archive += u32::from(is_archive_ext || archive_magic);
        exec += u32::from(is_exec_magic);
        let wrong = match (expected(ext), magic) {
            (Some(want), Some(m)) => !want.contains(&m),
            (None, Some(_)) => is_exec_magic && !ext.is_empty(),
            _ => false,
        };
        mismatch += u32::from(wrong);
        images += u32::from(
            ct.starts_with("image/")
                || magic == Some(FileMagic::Image)
                || matches!(ext, "png" | "jpg" | "jpeg" | "gif" | "bmp" | "webp"),
        );
        pdfs += u32::from(ext == "pdf" || magic == Some(FileMagic::Pdf) || ct == "application/pdf");
    }
    for (f, v) in [
        (F::Count, count),
        (F::RiskyExt, risky),
        (F::DoubleExt, double),
        (F::Macro, macros),
        (F::HtmlSvg, html),
        (F::Archive, archive),
        (F::ExecMagic, exec),
        (F::ExtMagicMismatch, mismatch),
        (F::Images, images),
        (F::Pdfs, pdfs),
    ] {
        put(out, f, v as f32);
    }
}
