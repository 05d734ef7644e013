//! Audit tools over the log: they drive the store's reader and the projections' folds over
//! positions, and hold no rules of their own. Rebuilds and as-of answers join here with
//! the read-model work (issue 3).

pub mod audit;
