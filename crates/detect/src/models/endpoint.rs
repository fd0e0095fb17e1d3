//! The endpoint model (being written: see the module docs of [`super`]).
