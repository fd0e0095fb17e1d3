//! Email ingest.
