//! Loaders for models trained in Python: XGBoost JSON and LightGBM text model files.
