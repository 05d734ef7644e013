//! Audit tools over the log: they drive the store's reader and the projections' folds over
//! positions, and hold no rules of their own. `rebuild` folds every read model from position 0.

pub mod audit;
pub mod checkpoint;
pub mod rebuild;
