//! Attachment metadata: decoded size, SHA-256, file type from magic bytes, Office macros.
//!
//! Contents are inspected once and dropped; only [`Attachment`] metadata leaves ingest.
//! Macro detection is a byte scan for the VBA project names (OLE `_VBA_PROJECT` / `VBA` storage
//! in UTF-16LE, OOXML `vbaProject.bin` entry name): cheap and good enough for triage, not a
//! container parser.

use memchr::memmem;
use sha2::{Digest, Sha256};
use shrike_types::{Attachment, FileMagic};

/// Builds the metadata of one attachment from its decoded contents.
pub(crate) fn describe(name: Option<String>, content_type: String, data: &[u8]) -> Attachment {
    let magic = file_magic(data);
    Attachment {
        name,
        content_type: Some(content_type),
        size: data.len() as u64,
        sha256: Some(sha256_hex(data)),
        magic,
        has_macros: Some(magic.is_some_and(|m| has_macros(data, m))),
    }
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

/// What the leading bytes say the contents are; `None` for empty contents.
pub(crate) fn file_magic(data: &[u8]) -> Option<FileMagic> {
    if data.is_empty() {
        return None;
    }
    let starts = |m: &[u8]| data.starts_with(m);
    let at = |off: usize, m: &[u8]| data.get(off..off + m.len()) == Some(m);
    let magic =
        if starts(b"%PDF-") || memmem::find(data.get(..1024).unwrap_or(data), b"%PDF-").is_some() {
            // Readers accept junk before the header within the first KiB; droppers use that.
            FileMagic::Pdf
        } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
            FileMagic::Zip
        } else if starts(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
            FileMagic::Ole
        } else if starts(b"Rar!\x1A\x07") {
            FileMagic::Rar
        } else if starts(b"7z\xBC\xAF\x27\x1C") {
            FileMagic::SevenZip
        } else if starts(b"\x1F\x8B") {
            FileMagic::Gzip
        } else if starts(b"\x7FELF") {
            FileMagic::Elf
        } else if starts(b"MZ") {
            FileMagic::Pe
        } else if at(0x8001, b"CD001") || at(0x8801, b"CD001") || at(0x9001, b"CD001") {
            FileMagic::Iso
        } else if starts(b"\x89PNG\r\n\x1A\n")
            || starts(b"\xFF\xD8\xFF")
            || starts(b"GIF87a")
            || starts(b"GIF89a")
            || (starts(b"RIFF") && at(8, b"WEBP"))
            || (starts(b"BM") && at(6, b"\0\0\0\0"))
            || starts(b"II*\0")
            || starts(b"MM\0*")
        {
            FileMagic::Image
        } else if is_html(data) {
            FileMagic::Html
        } else {
            FileMagic::Other
        };
    Some(magic)
}

fn is_html(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let head = data
        .get(start..(start + 14).min(data.len()))
        .unwrap_or_default();
    let lower = head.to_ascii_lowercase();
    lower.starts_with(b"<html") || lower.starts_with(b"<!doctype html")
}

/// UTF-16LE `_VBA_PROJECT` (the OLE stream of a VBA project).
const OLE_VBA_PROJECT: &[u8] = b"_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";
/// UTF-16LE, NUL-terminated `VBA` (the storage holding the modules).
const OLE_VBA_STORAGE: &[u8] = b"V\0B\0A\0\0\0";

fn has_macros(data: &[u8], magic: FileMagic) -> bool {
    match magic {
        FileMagic::Ole => {
            memmem::find(data, OLE_VBA_PROJECT).is_some()
                || memmem::find(data, OLE_VBA_STORAGE).is_some()
        }
        // Entry names are stored uncompressed in local headers and the central directory.
        FileMagic::Zip => {
            memmem::find(data, b"vbaProject.bin").is_some()
                || memmem::find(data, b"vbaproject.bin").is_some()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes() {
        assert_eq!(file_magic(b"%PDF-1.7\n"), Some(FileMagic::Pdf));
        assert_eq!(file_magic(b"PK\x03\x04rest"), Some(FileMagic::Zip));
        assert_eq!(file_magic(b"MZ\x90\0"), Some(FileMagic::Pe));
        assert_eq!(file_magic(b"\x7FELF\x02"), Some(FileMagic::Elf));
        assert_eq!(file_magic(b"Rar!\x1A\x07\x01\0"), Some(FileMagic::Rar));
        assert_eq!(
            file_magic(b"7z\xBC\xAF\x27\x1C\0"),
            Some(FileMagic::SevenZip)
        );
        assert_eq!(file_magic(b"\x1F\x8B\x08"), Some(FileMagic::Gzip));
        assert_eq!(file_magic(b"\x89PNG\r\n\x1A\n...."), Some(FileMagic::Image));
        assert_eq!(file_magic(b"\xFF\xD8\xFF\xE0"), Some(FileMagic::Image));
        assert_eq!(file_magic(b"  \n<!DOCTYPE HTML><p>"), Some(FileMagic::Html));
        assert_eq!(file_magic(b"<html><body>"), Some(FileMagic::Html));
        assert_eq!(file_magic(b"hello"), Some(FileMagic::Other));
        assert_eq!(file_magic(b""), None);
        let mut iso = vec![0u8; 0x8010];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(file_magic(&iso), Some(FileMagic::Iso));
    }

    #[test]
    fn macros_in_ole_and_ooxml() {
        let mut ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        ole.extend_from_slice(&[0; 64]);
        let clean = describe(None, "application/msword".into(), &ole);
        assert_eq!(clean.magic, Some(FileMagic::Ole));
        assert_eq!(clean.has_macros, Some(false));
        ole.extend_from_slice(OLE_VBA_PROJECT);
        assert_eq!(
            describe(None, "application/msword".into(), &ole).has_macros,
            Some(true)
        );
        let docm = b"PK\x03\x04....word/vbaProject.bin....".to_vec();
        let a = describe(
            Some("x.docm".into()),
            "application/octet-stream".into(),
            &docm,
        );
        assert_eq!(a.has_macros, Some(true));
        assert_eq!(a.size, docm.len() as u64);
        // Not a container: never has macros, even with the marker.
        assert_eq!(
            describe(None, "text/plain".into(), b"vbaProject.bin").has_macros,
            Some(false)
        );
    }

    #[test]
    fn sha256_is_lower_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
