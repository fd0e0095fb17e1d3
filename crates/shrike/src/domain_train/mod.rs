//! Training the per-domain models (`shrike train endpoint|network|cloud`) and the stacked fusion
//! weights (`shrike train fusion`), on the same machinery as the email model (being written).

pub mod cloud;
pub mod endpoint;
pub mod fusion;
pub mod network;
