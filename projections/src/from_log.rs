//! The one pass for answers that may need what the catalog no longer keeps in memory
//! (backups and monitor transitions that were settled, [`crate::catalog::InLog`]).

use std::future::Future;

/// The entities whose own events must be read from the log before the answer can be
/// computed: VMs for their backups, monitors for their transitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeedsLog<K>(pub Vec<K>);

/// `compute` is asked with nothing read; when it names entities, `read` reads what they
/// need from the log and `compute` is asked once more with it. Answers the second
/// [`NeedsLog`] if even that was not enough (an entity's log could not be read).
pub async fn with_log<K, R: Default, T, E, F>(
    compute: impl Fn(&R) -> Result<T, NeedsLog<K>>,
    read: impl FnOnce(Vec<K>) -> F,
) -> Result<Result<T, NeedsLog<K>>, E>
where
    F: Future<Output = Result<R, E>>,
{
    match compute(&R::default()) {
        Ok(answer) => Ok(Ok(answer)),
        Err(NeedsLog(missing)) => {
            let read = read(missing).await?;
            Ok(compute(&read))
        }
    }
}
