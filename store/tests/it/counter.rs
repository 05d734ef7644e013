//! A minimal aggregate, so the store is tested without the domain.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Default, Clone, Serialize, Deserialize, Debug)]
pub struct Counter {
    pub value: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CounterEvent {
    Added { by: i64 },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> String {
        "Added".into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("refused")]
pub struct Refused;

impl Aggregate for Counter {
    const TYPE: &'static str = "counter";
    type Command = Vec<i64>;
    type Event = CounterEvent;
    type Error = Refused;
    type Services = ();

    async fn handle(&mut self, adds: Vec<i64>, _: &(), sink: &EventSink<Self>) -> Result<(), Refused> {
        for by in adds {
            if by == 0 {
                return Err(Refused);
            }
            sink.write(CounterEvent::Added { by }, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CounterEvent) {
        let CounterEvent::Added { by } = event;
        self.value += by;
    }
}

/// The same counter under another aggregate type, for rules that span types.
#[derive(Default, Clone, Serialize, Deserialize, Debug)]
pub struct Tally(Counter);

impl Aggregate for Tally {
    const TYPE: &'static str = "tally";
    type Command = Vec<i64>;
    type Event = CounterEvent;
    type Error = Refused;
    type Services = ();

    async fn handle(&mut self, adds: Vec<i64>, _: &(), sink: &EventSink<Self>) -> Result<(), Refused> {
        for by in adds {
            sink.write(CounterEvent::Added { by }, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CounterEvent) {
        self.0.apply(event)
    }
}
