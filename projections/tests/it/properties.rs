//! Properties over fixture histories: events round-trip through serde; the live read model
//! equals a rebuild; "as of" any position equals a rebuild of the log cut there; two
//! rebuilds give the same digest.

use std::time::Duration;

use domain::AnyEvent;
use projections::{Catalog, Projector};
use proptest::prelude::*;
use store::EventLog;
use store::testing::TempStore;

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn every_fixture_event_round_trips_through_serde(seed in any::<u64>()) {
        for commit in fixtures::generate(fixtures::Size::Small, seed).take(400) {
            for e in commit.events {
                let decoded = AnyEvent::decode(&commit.aggregate_type, &e.payload.to_string()).expect("decodes");
                prop_assert_eq!(serde_json::to_value(&decoded).unwrap(), e.payload);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn live_state_as_of_and_rebuilds_agree(seed in any::<u64>(), commits in 240usize..500, cuts in proptest::collection::vec(0.0f64..1.0, 4)) {
        tokio::runtime::Runtime::new().unwrap().block_on(async move {
            let store = TempStore::sqlite();
            let log = EventLog::connect(&store.url).await.unwrap();
            let live = Projector::start_with(log.clone(), 37).await.unwrap();
            // From about the 200th commit on, histories hold late corrections (a resize and
            // a decommission recorded after a later decommission) besides cancelled and
            // rolled-out releases.
            let history: Vec<_> = fixtures::generate(fixtures::Size::Small, seed).take(commits).collect();
            // Two loads, so the log has transactions of different sizes.
            let (first, second) = history.split_at(history.len() / 3);
            log.append_in_order(first.iter().map(fixtures::Commit::appendable)).await.unwrap();
            let head = log.append_in_order(second.iter().map(fixtures::Commit::appendable)).await.unwrap();
            assert!(live.wait_for(head, Duration::from_secs(10)).await);

            let events = log.read_after(0, 1_000_000).await.unwrap();
            let mut rebuilt = Catalog::default();
            rebuilt.fold(&events);
            let recorded: Vec<_> = events.iter().map(|e| projections::Recorded::decode(e).unwrap()).collect();
            assert_eq!(*live.read(), rebuilt, "live equals a rebuild");
            let (_, one) = replay::rebuild::rebuild(&log, |_, _| {}).await.unwrap();
            let (_, two) = replay::rebuild::rebuild(&log, |_, _| {}).await.unwrap();
            assert_eq!(one.digests, two.digests, "two rebuilds give one digest");
            assert_eq!(one.digests[0].1, rebuilt.digest());

            for cut in cuts {
                let position = (cut * head as f64) as i64;
                let mut cut_log = Catalog::default();
                cut_log.fold(&events[..position as usize]);
                assert_eq!(rebuilt.at(position).state(), cut_log.live().state(), "as of position {position}");
                // Backups: from memory when it still keeps them, else from the VM's own log.
                for vm in rebuilt.vms.keys() {
                    for since in [fixtures::start(), fixtures::start() + chrono::Duration::days(300), chrono::DateTime::<chrono::Utc>::MAX_UTC] {
                        let log = projections::backup_history::backups(*vm, &recorded, position, since);
                        if let Ok(kept) = rebuilt.at(position).backups(*vm, since) {
                            assert_eq!(kept, log, "VM {vm} as of position {position} from {since}");
                        }
                    }
                }
                // Monitor transitions, the same way.
                for monitor in rebuilt.monitors.keys() {
                    let own: Vec<_> = recorded.iter().filter(|e| e.aggregate_id == monitor.to_string()).cloned().collect();
                    for since in [fixtures::start(), fixtures::start() + chrono::Duration::days(300), chrono::DateTime::<chrono::Utc>::MAX_UTC] {
                        let log = projections::catalog::transitions_from_events(&own, position, since);
                        if let Ok(kept) = rebuilt.at(position).transitions(monitor, since) {
                            assert_eq!(kept, log, "monitor {monitor} as of position {position} from {since}");
                        }
                    }
                }
            }
            store.remove().await;
        });
    }
}
