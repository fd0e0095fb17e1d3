//! The shrike binary.
fn main() {}
