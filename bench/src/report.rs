//! Where the benchmarks' figures go: tables on stdout, or, with `--json`, one JSON object
//! printed at the end (`{"replay": {"ratio": 0.74, …}, …}`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};

static JSON: AtomicBool = AtomicBool::new(false);
static FIGURES: Mutex<Option<Map<String, Value>>> = Mutex::new(None);

pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Records one figure of one benchmark.
pub fn figure(bench: &str, key: &str, value: impl Into<Value>) {
    let mut figures = FIGURES.lock().unwrap_or_else(|e| e.into_inner());
    let all = figures.get_or_insert_with(Map::new);
    let entry = all.entry(bench.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(map) = entry {
        map.insert(key.to_owned(), value.into());
    }
}

/// Prints the JSON object, when asked for.
pub fn finish() {
    if json() {
        let figures = FIGURES.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
        println!("{}", Value::Object(figures));
    }
}
