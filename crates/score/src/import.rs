//! Loaders for models trained in Python: XGBoost JSON and LightGBM text model files.
//!
//! Both produce a validated [`TreeEnsemble`] that Shrike's evaluator runs without the training
//! library, with the same predictions (see `tests/python_models.rs` for the parity checks):
//! - [`from_xgboost_json`]: `gbtree` boosters with one output (`binary:logistic`,
//!   `binary:logitraw`, `reg:squarederror`). XGBoost's rule is already Shrike's (`x < t` left,
//!   NaN to the default side). `base_score` is a probability for `binary:logistic` (Shrike's
//!   base margin is its logit), a margin for `binary:logitraw` (XGBoost >= 1.4) and the mean for
//!   `reg:squarederror`. Leaf values are read from `split_conditions` (XGBoost stores a
//!   leaf's value in the split-condition slot; `base_weights` is the unscaled node weight in
//!   older versions), covers from `sum_hessian`.
//! - [`from_lightgbm_text`]: single-output numerical trees (`binary`, `cross_entropy`,
//!   `regression`), including random-forest mode (`average_output`). LightGBM goes left when
//!   `(double) x <= t`; for an `f32` input that is exactly `x < t'` with `t'` the smallest `f32`
//!   above `t` ([`f32_above`]). Two LightGBM input rules are folded into the thresholds
//!   ([`lightgbm_threshold`]): it reads any input with |x| <= 1e-35 (`kZeroThreshold`) as 0, which
//!   matters for thresholds inside that band (LightGBM puts bin edges at ±1e-35); and a `t` of
//!   `+inf` ("missing versus the rest") becomes the mirrored split `x < -inf` with the children
//!   swapped. Missing-value types map onto Shrike's default direction: `NaN` directly, `None`
//!   (NaN is read as 0) as "NaN goes where 0 goes", and `Zero` (NaN and zero take the default
//!   side) when the default is where 0 goes anyway, and is rejected otherwise. Covers are
//!   `internal_count`/`leaf_count`.
//!
//! Model files are untrusted: malformed, truncated or hostile input gives an [`ImportError`] that
//! names the tree and field, never a panic; nothing is allocated from a count the file declares
//! (only in proportion to the input's size); cycles and shared nodes are rejected while the tree
//! is rebuilt, and the result passes [`TreeEnsemble::validate`].
//! Categorical splits, multi-class or multi-target models, DART and linear trees are rejected.

use crate::ensemble::{Aggregation, EnsembleError, Link, Node, Tree, TreeEnsemble};
use serde::Deserialize;

/// Why a Python-trained model file cannot be imported.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ImportError {
    /// Not valid JSON, or JSON of the wrong shape (a missing field, a wrong type).
    #[error("XGBoost JSON model does not parse: {0}")]
    Json(String),
    /// A LightGBM line that is not `key=value` where one is expected, or a missing block.
    #[error("LightGBM model, line {line}: {message}")]
    Syntax {
        /// 1-based line number (0 for the end of the file).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A model-level field is missing or malformed.
    #[error("field {field}: {reason}")]
    Field {
        /// The field (`learner_model_param.base_score`, `max_feature_idx`, ...).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A tree's field is missing or malformed.
    #[error("tree {tree}, field {field}: {reason}")]
    Tree {
        /// Tree index in the file.
        tree: usize,
        /// The field (`left_children`, `threshold`, ...).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The model uses something Shrike cannot evaluate exactly.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The converted ensemble fails [`TreeEnsemble::validate`].
    #[error("converted ensemble is invalid: {0}")]
    Ensemble(#[from] EnsembleError),
}

fn tree_err(tree: usize, field: &'static str, reason: impl Into<String>) -> ImportError {
    ImportError::Tree {
        tree,
        field,
        reason: reason.into(),
    }
}

fn field_err(field: &'static str, reason: impl Into<String>) -> ImportError {
    ImportError::Field {
        field,
        reason: reason.into(),
    }
}

/// The smallest `f32` strictly greater than `t`, so that for every `f32` `x`:
/// `(x as f64) <= t` exactly when `x < f32_above(t)`. `+inf` when `t >= f32::MAX`, which is still
/// exact for every `t` except `+inf` itself (no `f32` is above it; the LightGBM loader mirrors
/// such splits instead). NaN gives NaN.
pub fn f32_above(t: f64) -> f32 {
    // Round to nearest; if that is not above `t`, the next f32 up is the smallest one that is.
    let r = t as f32;
    if f64::from(r) > t {
        r
    } else {
        r.next_up()
    }
}

/// A node as the source format describes it, before renumbering.
enum SourceNode {
    Leaf {
        value: f64,
        cover: f64,
    },
    Split {
        feature: u32,
        threshold: f32,
        left: usize,
        right: usize,
        default_left: bool,
        cover: f64,
    },
}

/// Rebuilds tree `tree` from `n` source nodes (root 0) in breadth-first order, checking that
/// children are in range and every node is reached at most once (no cycles, no sharing).
/// `children_field` names the field to blame for a bad reference.
fn build_tree(
    tree: usize,
    n: usize,
    children_field: &'static str,
    mut node_at: impl FnMut(usize) -> Result<SourceNode, ImportError>,
) -> Result<Tree, ImportError> {
    if n == 0 {
        return Err(tree_err(tree, children_field, "the tree has no nodes"));
    }
    let mut new_index = vec![u32::MAX; n];
    let mut order = vec![0usize];
    if let Some(slot) = new_index.first_mut() {
        *slot = 0;
    }
    let mut nodes = Vec::new();
    let mut head = 0;
    // `order[k]` is the source index of new node `k`; nodes are emitted in that order.
    while let Some(&i) = order.get(head) {
        head += 1;
        nodes.push(match node_at(i)? {
            SourceNode::Leaf { value, cover } => Node::Leaf { value, cover },
            SourceNode::Split {
                feature,
                threshold,
                left,
                right,
                default_left,
                cover,
            } => {
                let mut child_index = |c: usize| -> Result<u32, ImportError> {
                    let slot = new_index.get_mut(c).ok_or_else(|| {
                        tree_err(
                            tree,
                            children_field,
                            format!("node {i} has child {c}, beyond the tree's {n} nodes"),
                        )
                    })?;
                    if *slot != u32::MAX {
                        return Err(tree_err(
                            tree,
                            children_field,
                            format!("node {c} is reached twice (a cycle or a shared subtree)"),
                        ));
                    }
                    // `order.len() <= n`, and `n` is the length of an array in the file.
                    let k = u32::try_from(order.len())
                        .map_err(|_| tree_err(tree, children_field, "too many nodes"))?;
                    *slot = k;
                    order.push(c);
                    Ok(k)
                };
                let left = child_index(left)?;
                let right = child_index(right)?;
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    default_left,
                    cover,
                }
            }
        });
    }
    Ok(Tree { nodes })
}

// ---------------------------------------------------------------------------------------------
// XGBoost

#[derive(Deserialize)]
struct XgbModel {
    learner: XgbLearner,
    /// The XGBoost version that wrote the file (`[3, 2, 0]`).
    #[serde(default)]
    version: Vec<u64>,
}

#[derive(Deserialize)]
struct XgbLearner {
    learner_model_param: XgbLearnerParam,
    objective: XgbObjective,
    gradient_booster: XgbBooster,
}

#[derive(Deserialize)]
struct XgbLearnerParam {
    base_score: String,
    num_feature: String,
    #[serde(default)]
    num_class: Option<String>,
    #[serde(default)]
    num_target: Option<String>,
}

#[derive(Deserialize)]
struct XgbObjective {
    name: String,
}

#[derive(Deserialize)]
struct XgbBooster {
    name: String,
    #[serde(default)]
    model: Option<XgbGbtree>,
}

#[derive(Deserialize)]
struct XgbGbtree {
    trees: Vec<XgbTree>,
    #[serde(default)]
    tree_info: Vec<i64>,
}

#[derive(Deserialize)]
struct XgbTree {
    left_children: Vec<i64>,
    right_children: Vec<i64>,
    split_indices: Vec<i64>,
    split_conditions: Vec<f64>,
    default_left: Vec<XgbFlag>,
    sum_hessian: Vec<f64>,
    #[serde(default)]
    split_type: Vec<i64>,
    #[serde(default)]
    categories_nodes: Vec<serde::de::IgnoredAny>,
    tree_param: XgbTreeParam,
}

#[derive(Deserialize)]
struct XgbTreeParam {
    num_nodes: String,
    #[serde(default)]
    size_leaf_vector: Option<String>,
}

/// XGBoost writes `default_left` as 0/1 integers; accept booleans too.
#[derive(Deserialize, Clone, Copy)]
#[serde(untagged)]
enum XgbFlag {
    Bool(bool),
    Int(i64),
}

fn parse_count(field: &'static str, s: &str) -> Result<usize, ImportError> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| field_err(field, format!("expected a count, found {s:?}")))
}

/// `base_score` is a string: `"5E-1"`, or since XGBoost 2 possibly a vector `"[5E-1]"`.
fn parse_base_score(s: &str) -> Result<f64, ImportError> {
    const FIELD: &str = "learner_model_param.base_score";
    let t = s.trim();
    let inner = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(t);
    let mut parts = inner.split(',');
    let one = parts.next().unwrap_or("").trim();
    if parts.next().is_some() {
        return Err(ImportError::Unsupported(format!(
            "{FIELD} {s:?} has several values (multi-target model)"
        )));
    }
    let v: f64 = one
        .parse()
        .map_err(|_| field_err(FIELD, format!("expected a number, found {s:?}")))?;
    if !v.is_finite() {
        return Err(field_err(FIELD, format!("{s:?} is not finite")));
    }
    Ok(v)
}

/// Loads an XGBoost JSON model (`Booster.save_model("model.json")`).
pub fn from_xgboost_json(bytes: &[u8]) -> Result<TreeEnsemble, ImportError> {
    let model: XgbModel =
        serde_json::from_slice(bytes).map_err(|e| ImportError::Json(e.to_string()))?;
    let learner = model.learner;
    let param = &learner.learner_model_param;
    for (field, value) in [
        ("learner_model_param.num_class", &param.num_class),
        ("learner_model_param.num_target", &param.num_target),
    ] {
        if let Some(v) = value {
            if parse_count(field, v)? > 1 {
                return Err(ImportError::Unsupported(format!(
                    "{field} is {v}: only single-output models are supported"
                )));
            }
        }
    }
    let n_features = parse_count("learner_model_param.num_feature", &param.num_feature)?;
    let base = parse_base_score(&param.base_score)?;
    let (base_score, link) = match learner.objective.name.as_str() {
        // `base_score` is the margin itself for logitraw since XGBoost 1.4 (dmlc/xgboost#6517);
        // before that it was a probability like binary:logistic's.
        "binary:logitraw" => {
            if model.version.as_slice() < [1, 4].as_slice() && !model.version.is_empty() {
                return Err(ImportError::Unsupported(format!(
                    "binary:logitraw model written by XGBoost {:?}: before 1.4 its base_score \
                     meaning differs; re-save it with a current XGBoost",
                    model.version
                )));
            }
            (base, Link::Logistic)
        }
        // A probability; XGBoost boosts from its logit (`ProbToMargin`).
        "binary:logistic" => {
            if !(base > 0.0 && base < 1.0) {
                return Err(field_err(
                    "learner_model_param.base_score",
                    format!("{base} is not a probability in (0, 1)"),
                ));
            }
            ((base / (1.0 - base)).ln(), Link::Logistic)
        }
        "reg:squarederror" | "reg:linear" => (base, Link::Identity),
        other => {
            return Err(ImportError::Unsupported(format!(
                "XGBoost objective {other:?} (supported: binary:logistic, binary:logitraw, \
                 reg:squarederror)"
            )))
        }
    };
    if learner.gradient_booster.name != "gbtree" {
        return Err(ImportError::Unsupported(format!(
            "XGBoost booster {:?} (only gbtree)",
            learner.gradient_booster.name
        )));
    }
    let gbtree = learner
        .gradient_booster
        .model
        .ok_or_else(|| field_err("gradient_booster.model", "missing"))?;
    if gbtree.tree_info.iter().any(|&g| g != 0) {
        return Err(ImportError::Unsupported(
            "tree_info names several output groups (multi-class model)".into(),
        ));
    }
    let trees = gbtree
        .trees
        .iter()
        .enumerate()
        .map(|(t, tree)| xgb_tree(t, tree))
        .collect::<Result<Vec<_>, _>>()?;
    let ensemble = TreeEnsemble {
        trees,
        base_score,
        aggregation: Aggregation::Sum,
        link,
        n_features,
    };
    ensemble.validate()?;
    Ok(ensemble)
}

fn xgb_tree(t: usize, tree: &XgbTree) -> Result<Tree, ImportError> {
    let n = tree.left_children.len();
    let declared = parse_count("tree_param.num_nodes", &tree.tree_param.num_nodes)
        .map_err(|_| tree_err(t, "tree_param.num_nodes", "not a count"))?;
    if declared != n {
        return Err(tree_err(
            t,
            "tree_param.num_nodes",
            format!("says {declared}, left_children has {n}"),
        ));
    }
    if let Some(s) = &tree.tree_param.size_leaf_vector {
        if parse_count("size_leaf_vector", s).map_err(|_| {
            tree_err(
                t,
                "tree_param.size_leaf_vector",
                format!("not a count: {s:?}"),
            )
        })? > 1
        {
            return Err(ImportError::Unsupported(format!(
                "tree {t}: vector leaves (multi-target)"
            )));
        }
    }
    for (field, len) in [
        ("right_children", tree.right_children.len()),
        ("split_indices", tree.split_indices.len()),
        ("split_conditions", tree.split_conditions.len()),
        ("default_left", tree.default_left.len()),
        ("sum_hessian", tree.sum_hessian.len()),
    ] {
        if len != n {
            return Err(tree_err(
                t,
                field,
                format!("has {len} entries, left_children has {n}"),
            ));
        }
    }
    if !tree.categories_nodes.is_empty() || tree.split_type.iter().any(|&s| s != 0) {
        return Err(ImportError::Unsupported(format!(
            "tree {t}: categorical splits"
        )));
    }
    build_tree(t, n, "left_children", |i| {
        let get = |v: &[i64], field| {
            v.get(i)
                .copied()
                .ok_or_else(|| tree_err(t, field, format!("no entry for node {i}")))
        };
        let getf = |v: &[f64], field| {
            v.get(i)
                .copied()
                .ok_or_else(|| tree_err(t, field, format!("no entry for node {i}")))
        };
        let left = get(&tree.left_children, "left_children")?;
        let right = get(&tree.right_children, "right_children")?;
        let cond = getf(&tree.split_conditions, "split_conditions")?;
        let cover = getf(&tree.sum_hessian, "sum_hessian")?;
        if left == -1 {
            if right != -1 {
                return Err(tree_err(
                    t,
                    "right_children",
                    format!("node {i} has left child -1 but right child {right}"),
                ));
            }
            return Ok(SourceNode::Leaf { value: cond, cover });
        }
        let child = |c: i64, field| {
            usize::try_from(c).map_err(|_| tree_err(t, field, format!("node {i}: child {c}")))
        };
        let feature = get(&tree.split_indices, "split_indices")?;
        let feature = u32::try_from(feature)
            .map_err(|_| tree_err(t, "split_indices", format!("node {i}: feature {feature}")))?;
        let default_left = match tree.default_left.get(i) {
            Some(XgbFlag::Bool(b)) => *b,
            Some(XgbFlag::Int(0)) => false,
            Some(XgbFlag::Int(1)) => true,
            _ => {
                return Err(tree_err(
                    t,
                    "default_left",
                    format!("node {i}: expected 0, 1 or a boolean"),
                ))
            }
        };
        Ok(SourceNode::Split {
            feature,
            // XGBoost thresholds are f32 written in shortest form; narrowing restores them.
            threshold: cond as f32,
            left: child(left, "left_children")?,
            right: child(right, "right_children")?,
            default_left,
            cover,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// LightGBM

/// LightGBM's `kZeroThreshold` (`1e-35f`): inputs with |x| <= this are read as 0.
const LGB_ZERO: f32 = 1e-35;

/// Shrike's `f32` threshold for LightGBM's finite or `-inf` threshold `t`, such that for every
/// `f32` `x` that is not NaN, `x < lightgbm_threshold(t)` exactly when LightGBM sends `x` left.
///
/// LightGBM first reads |x| <= 1e-35 as 0, then goes left when `x <= t`. Outside the band
/// `[-1e-35, 1e-35)` that is plain `x <= t` ([`f32_above`]): the band sits wholly on one side.
/// Inside it, the band goes where 0 goes: for `t < 0` left means `x < -1e-35`, for `t >= 0` it
/// means `x <= 1e-35`.
pub fn lightgbm_threshold(t: f64) -> f32 {
    let z = f64::from(LGB_ZERO);
    if (-z..z).contains(&t) {
        if t < 0.0 {
            -LGB_ZERO
        } else {
            LGB_ZERO.next_up()
        }
    } else {
        f32_above(t)
    }
}

/// One `Tree=N` block: its `key=value` lines.
struct LgbBlock<'a> {
    index: usize,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> LgbBlock<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn require(&self, key: &'static str) -> Result<&'a str, ImportError> {
        self.get(key)
            .ok_or_else(|| tree_err(self.index, key, "missing"))
    }

    /// A space-separated array that must have exactly `len` entries.
    fn array<T: std::str::FromStr>(
        &self,
        key: &'static str,
        len: usize,
    ) -> Result<Vec<T>, ImportError> {
        let raw = self.require(key)?;
        let mut out = Vec::new();
        for (k, item) in raw.split_ascii_whitespace().enumerate() {
            if k >= len {
                return Err(tree_err(
                    self.index,
                    key,
                    format!("more than the expected {len} entries"),
                ));
            }
            out.push(item.parse::<T>().map_err(|_| {
                tree_err(
                    self.index,
                    key,
                    format!("entry {k} ({item:?}) is not a number"),
                )
            })?);
        }
        if out.len() != len {
            return Err(tree_err(
                self.index,
                key,
                format!("{} entries, expected {len}", out.len()),
            ));
        }
        Ok(out)
    }
}

/// Splits `key=value`; `None` for a line without `=`.
fn key_value(line: &str) -> Option<(&str, &str)> {
    line.split_once('=')
}

/// Loads a LightGBM text model (`Booster.save_model("model.txt")`).
pub fn from_lightgbm_text(text: &str) -> Result<TreeEnsemble, ImportError> {
    let mut header: Vec<(&str, &str)> = Vec::new();
    let mut average_output = false;
    let mut blocks: Vec<LgbBlock> = Vec::new();
    let mut ended = false;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if line == "end of trees" {
            ended = true;
            break;
        }
        if let Some(k) = line.strip_prefix("Tree=") {
            let index: usize = k.parse().map_err(|_| ImportError::Syntax {
                line: line_no,
                message: format!("bad tree header {line:?}"),
            })?;
            if index != blocks.len() {
                return Err(ImportError::Syntax {
                    line: line_no,
                    message: format!("expected Tree={}, found {line:?}", blocks.len()),
                });
            }
            blocks.push(LgbBlock {
                index,
                fields: Vec::new(),
            });
            continue;
        }
        match (blocks.last_mut(), key_value(line)) {
            (Some(block), Some(kv)) => block.fields.push(kv),
            (None, Some(kv)) => header.push(kv),
            (None, None) if line == "average_output" => average_output = true,
            // The file type line (`tree`) and other bare header words.
            (None, None) => {}
            (Some(_), None) => {
                return Err(ImportError::Syntax {
                    line: line_no,
                    message: format!("expected key=value inside a tree, found {line:?}"),
                })
            }
        }
    }
    if !ended {
        return Err(ImportError::Syntax {
            line: 0,
            message: "no `end of trees` line: the file is truncated or not a LightGBM model".into(),
        });
    }
    let head = |key: &'static str| {
        header
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| field_err(key, "missing from the header"))
    };
    for key in ["num_class", "num_tree_per_iteration"] {
        let v = parse_count(key, head(key)?)?;
        if v != 1 {
            return Err(ImportError::Unsupported(format!(
                "{key}={v}: only single-output models are supported"
            )));
        }
    }
    let max_feature_idx = parse_count("max_feature_idx", head("max_feature_idx")?)?;
    let n_features = max_feature_idx
        .checked_add(1)
        .ok_or_else(|| field_err("max_feature_idx", "too large"))?;
    let objective = head("objective")?;
    let mut words = objective.split_ascii_whitespace();
    let name = words.next().unwrap_or("");
    let (link, scale) = match name {
        "binary" => {
            let mut sigmoid = 1.0;
            for w in words {
                if let Some(s) = w.strip_prefix("sigmoid:") {
                    sigmoid = s
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0)
                        .ok_or_else(|| {
                            field_err("objective", format!("bad sigmoid in {objective:?}"))
                        })?;
                }
            }
            // LightGBM's probability is 1 / (1 + exp(-sigmoid * raw)); scaling the leaves by
            // `sigmoid` makes Shrike's raw value the log-odds margin.
            (Link::Logistic, sigmoid)
        }
        "cross_entropy" | "xentropy" => (Link::Logistic, 1.0),
        "regression" | "regression_l2" | "l2" | "mean_squared_error" | "mse" => {
            if words.any(|w| w == "sqrt") {
                return Err(ImportError::Unsupported(
                    "LightGBM regression with reg_sqrt".into(),
                ));
            }
            (Link::Identity, 1.0)
        }
        _ => {
            return Err(ImportError::Unsupported(format!(
                "LightGBM objective {objective:?} (supported: binary, cross_entropy, regression)"
            )))
        }
    };
    let trees = blocks
        .iter()
        .map(|b| lgb_tree(b, scale))
        .collect::<Result<Vec<_>, _>>()?;
    let ensemble = TreeEnsemble {
        trees,
        base_score: 0.0,
        aggregation: if average_output {
            Aggregation::Mean
        } else {
            Aggregation::Sum
        },
        link,
        n_features,
    };
    ensemble.validate()?;
    Ok(ensemble)
}

fn lgb_tree(b: &LgbBlock, scale: f64) -> Result<Tree, ImportError> {
    let t = b.index;
    let num_leaves: usize = b
        .require("num_leaves")?
        .trim()
        .parse()
        .map_err(|_| tree_err(t, "num_leaves", "not a count"))?;
    if num_leaves == 0 {
        return Err(tree_err(t, "num_leaves", "is 0"));
    }
    if b.get("num_cat").is_some_and(|c| c.trim() != "0") {
        return Err(ImportError::Unsupported(format!(
            "tree {t}: categorical splits"
        )));
    }
    if b.get("is_linear").is_some_and(|c| c.trim() != "0") {
        return Err(ImportError::Unsupported(format!("tree {t}: linear trees")));
    }
    let leaf_value: Vec<f64> = b.array("leaf_value", num_leaves)?;
    if num_leaves == 1 {
        let value = leaf_value.first().copied().unwrap_or(0.0) * scale;
        let cover = b
            .array::<f64>("leaf_count", 1)
            .ok()
            .and_then(|c| c.first().copied())
            .unwrap_or(0.0);
        return Ok(Tree {
            nodes: vec![Node::Leaf { value, cover }],
        });
    }
    let n_internal = num_leaves - 1;
    let split_feature: Vec<i64> = b.array("split_feature", n_internal)?;
    let threshold: Vec<f64> = b.array("threshold", n_internal)?;
    let decision_type: Vec<i64> = b.array("decision_type", n_internal)?;
    let left_child: Vec<i64> = b.array("left_child", n_internal)?;
    let right_child: Vec<i64> = b.array("right_child", n_internal)?;
    let internal_count: Vec<f64> = b.array("internal_count", n_internal)?;
    let leaf_count: Vec<f64> = b.array("leaf_count", num_leaves)?;
    // Source numbering: internal nodes 0..n_internal, then leaf j at n_internal + j.
    let child = |c: i64, i: usize, field: &'static str| -> Result<usize, ImportError> {
        let bad = || tree_err(t, field, format!("node {i}: child {c} out of range"));
        if c >= 0 {
            let c = usize::try_from(c).map_err(|_| bad())?;
            (c < n_internal).then_some(c).ok_or_else(bad)
        } else {
            // `~leaf`: -1 is leaf 0.
            let leaf = usize::try_from(!c).map_err(|_| bad())?;
            (leaf < num_leaves)
                .then_some(n_internal + leaf)
                .ok_or_else(bad)
        }
    };
    build_tree(t, n_internal + num_leaves, "left_child", |i| {
        let missing = |field| tree_err(t, field, format!("no entry for node {i}"));
        if let Some(j) = i.checked_sub(n_internal) {
            return Ok(SourceNode::Leaf {
                value: leaf_value
                    .get(j)
                    .copied()
                    .ok_or_else(|| missing("leaf_value"))?
                    * scale,
                cover: leaf_count
                    .get(j)
                    .copied()
                    .ok_or_else(|| missing("leaf_count"))?,
            });
        }
        let feature = split_feature
            .get(i)
            .copied()
            .ok_or_else(|| missing("split_feature"))?;
        let feature = u32::try_from(feature)
            .map_err(|_| tree_err(t, "split_feature", format!("node {i}: {feature}")))?;
        let th = threshold
            .get(i)
            .copied()
            .ok_or_else(|| missing("threshold"))?;
        if th.is_nan() {
            return Err(tree_err(t, "threshold", format!("node {i}: NaN")));
        }
        let dt = decision_type
            .get(i)
            .copied()
            .ok_or_else(|| missing("decision_type"))?;
        if !(0..=15).contains(&dt) {
            return Err(tree_err(t, "decision_type", format!("node {i}: {dt}")));
        }
        if dt & 1 != 0 {
            return Err(ImportError::Unsupported(format!(
                "tree {t} node {i}: categorical split"
            )));
        }
        let flag_left = dt & 2 != 0;
        let default_left = match (dt >> 2) & 3 {
            // None: LightGBM reads NaN as 0.0, so NaN goes where 0 goes.
            0 => 0.0 <= th,
            // Zero: NaN and zero (|x| <= 1e-35) go the default way. Exact when that is where the
            // comparison sends 0 anyway (`lightgbm_threshold` already sends the band with 0).
            1 => {
                if flag_left == (0.0 <= th) {
                    flag_left
                } else {
                    return Err(ImportError::Unsupported(format!(
                        "tree {t} node {i}: zero-as-missing split (threshold {th}) sends zero \
                         against the comparison; retrain with zero_as_missing=false"
                    )));
                }
            }
            // NaN: exactly Shrike's rule.
            2 => flag_left,
            _ => {
                return Err(tree_err(
                    t,
                    "decision_type",
                    format!("node {i}: unknown missing type in {dt}"),
                ))
            }
        };
        let left = child(
            left_child
                .get(i)
                .copied()
                .ok_or_else(|| missing("left_child"))?,
            i,
            "left_child",
        )?;
        let right = child(
            right_child
                .get(i)
                .copied()
                .ok_or_else(|| missing("right_child"))?,
            i,
            "right_child",
        )?;
        let cover = internal_count
            .get(i)
            .copied()
            .ok_or_else(|| missing("internal_count"))?;
        if th == f64::INFINITY {
            // `x <= inf` sends every number, +inf included, left: LightGBM writes this for
            // "missing versus the rest" splits. No f32 is above +inf, so mirror the split:
            // `x < -inf` sends every number right, and NaN goes to whichever side it went.
            return Ok(SourceNode::Split {
                feature,
                threshold: f32::NEG_INFINITY,
                left: right,
                right: left,
                default_left: !default_left,
                cover,
            });
        }
        Ok(SourceNode::Split {
            feature,
            threshold: lightgbm_threshold(th),
            left,
            right,
            default_left,
            cover,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_above_is_the_exact_boundary() {
        for t in [
            0.0,
            -0.0,
            1.0,
            0.1,
            -0.1,
            1.5000000000000002,
            -1.0000000180025095e-35,
            1e-45,
            -1e-300,
            3.4e38,
            1e300,
            -1e300,
        ] {
            let a = f32_above(t);
            assert!(f64::from(a) > t, "{t}: {a} not above");
            let below = a.next_down();
            assert!(f64::from(below) <= t, "{t}: {below} also above");
        }
        assert_eq!(f32_above(1.0), 1.0f32.next_up());
        assert_eq!(f32_above(0.1), 0.1f32); // 0.1f32 > 0.1
        assert_eq!(f32_above(1e300), f32::INFINITY);
        assert_eq!(f32_above(-1e300), -f32::MAX);
    }

    /// Brute force over the f32 values around each threshold: Shrike's rule on the converted
    /// threshold equals LightGBM's (zero band read as 0, then `x <= t` in double).
    #[test]
    fn lightgbm_threshold_matches_lightgbm_rule() {
        let lightgbm_left = |x: f32, t: f64| {
            let x = if x.abs() <= LGB_ZERO {
                0.0
            } else {
                f64::from(x)
            };
            x <= t
        };
        let z = f64::from(LGB_ZERO);
        for t in [
            -z,
            z,
            -0.0,
            0.0,
            1e-36,
            -1e-36,
            -1.0000000180025095e-35,
            1.0000000180025095e-35,
            z * 1.5,
            -z * 1.5,
            0.5,
            -3.25,
            1e300,
            f64::NEG_INFINITY,
        ] {
            let shrike = lightgbm_threshold(t);
            let probes = [
                0.0,
                -0.0,
                LGB_ZERO,
                -LGB_ZERO,
                LGB_ZERO.next_up(),
                LGB_ZERO.next_down(),
                (-LGB_ZERO).next_up(),
                (-LGB_ZERO).next_down(),
                1e-36,
                -1e-36,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::MAX,
                -f32::MAX,
            ];
            let near = [t as f32, (t as f32).next_up(), (t as f32).next_down()];
            for x in probes.into_iter().chain(near) {
                assert_eq!(x < shrike, lightgbm_left(x, t), "t = {t:e}, x = {x:e}");
            }
        }
    }

    #[test]
    fn base_score_forms() {
        assert_eq!(parse_base_score("5E-1"), Ok(0.5));
        assert_eq!(parse_base_score("[4.615E-1]"), Ok(0.4615));
        assert!(matches!(
            parse_base_score("[1E-1,2E-1]"),
            Err(ImportError::Unsupported(_))
        ));
        assert!(matches!(
            parse_base_score("abc"),
            Err(ImportError::Field { .. })
        ));
        assert!(matches!(
            parse_base_score("[inf]"),
            Err(ImportError::Field { .. })
        ));
    }
}
