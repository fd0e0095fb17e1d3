//! `FeatureVector -> Score`: the ensemble, calibration, verdict and reasons in one call.
