//! Sigma rules over OCSF events (being written).
