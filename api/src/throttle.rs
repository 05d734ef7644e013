//! Slowing down whoever keeps sending documents the server refuses before running them
//! (too large, too deep, too many fields or values, not JSON). No client of the contract
//! sends such documents in a stream, but a loop of them keeps the cores busy with
//! refusing, and everyone's requests wait for a core. Each actor has a budget of refusals
//! that refills over time; once it is spent, its requests wait before they are read
//! (a sleeping task costs no core), so a client looping refused documents sends about one
//! a second and the others keep their latency.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refusals an actor may have at once before it is slowed down.
const BURST: f64 = 20.0;
/// Refusals per second that the budget regains.
const REFILL_PER_SECOND: f64 = 2.0;
/// How long a request of an actor over its budget waits before it is read.
pub const WAIT: Duration = Duration::from_secs(1);
/// Actors remembered at most; the fullest budgets are forgotten first (a full budget is
/// what an unknown actor has anyway).
const ACTORS: usize = 10_000;

#[derive(Default)]
pub struct Throttle {
    budgets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Throttle {
    /// Whether the actor has spent its budget (its request should wait first).
    pub fn over_budget(&self, actor: &str, now: Instant) -> bool {
        let budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        budgets.get(actor).is_some_and(|(left, since)| refilled(*left, *since, now) < 1.0)
    }

    /// Counts a refusal against the actor's budget.
    pub fn refused(&self, actor: &str, now: Instant) {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        if budgets.len() >= ACTORS && !budgets.contains_key(actor) {
            let fullest: Vec<String> = {
                let mut all: Vec<(&String, f64)> =
                    budgets.iter().map(|(a, (left, since))| (a, refilled(*left, *since, now))).collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1));
                all.iter().take(ACTORS / 10).map(|(a, _)| (*a).clone()).collect()
            };
            for actor in fullest {
                budgets.remove(&actor);
            }
        }
        let (left, since) = budgets.get(actor).copied().unwrap_or((BURST, now));
        budgets.insert(actor.to_owned(), ((refilled(left, since, now) - 1.0).max(0.0), now));
    }
}

fn refilled(left: f64, since: Instant, now: Instant) -> f64 {
    (left + now.saturating_duration_since(since).as_secs_f64() * REFILL_PER_SECOND).min(BURST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_of_refusals_is_spent_and_refilled_per_actor() {
        let (throttle, t0) = (Throttle::default(), Instant::now());
        for _ in 0..20 {
            assert!(!throttle.over_budget("mallory", t0));
            throttle.refused("mallory", t0);
        }
        assert!(throttle.over_budget("mallory", t0), "20 refusals at once spend the budget");
        assert!(!throttle.over_budget("alice", t0), "another actor is not slowed");
        assert!(!throttle.over_budget("mallory", t0 + Duration::from_millis(500)), "half a second gives one back");
        throttle.refused("mallory", t0 + Duration::from_millis(500));
        assert!(throttle.over_budget("mallory", t0 + Duration::from_millis(500)));
        assert!(!throttle.over_budget("mallory", t0 + Duration::from_secs(11)), "full again after 10 s");
    }

    #[test]
    fn it_remembers_a_bounded_number_of_actors() {
        let (throttle, t0) = (Throttle::default(), Instant::now());
        for _ in 0..20 {
            throttle.refused("mallory", t0);
        }
        for n in 0..ACTORS + 5 {
            throttle.refused(&format!("actor-{n}"), t0);
        }
        assert!(throttle.budgets.lock().unwrap().len() <= ACTORS);
        assert!(throttle.over_budget("mallory", t0), "the spent budget is kept, the fullest are forgotten");
    }
}
