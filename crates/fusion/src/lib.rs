//! Per-entity correlation and fusion (being written).
