//! The Directory's domain: one aggregate per module, each with its commands, past-tense
//! events and a typed error. Pure: no IO, no clock, no id generation. Time and ids arrive
//! inside commands; facts about other aggregates arrive as `…Facts` values the caller
//! loaded, so that `decide` stays a function of its inputs.

pub mod backup_log;
pub mod billing_run;
pub mod customer;
pub mod event;
pub mod http_monitor;
pub mod invoice;
pub mod maintenance_window;
pub mod network;
pub mod person;
pub mod platform;
pub mod price_list;
pub mod project;
pub mod release;
pub mod shared;
pub mod ssh_key;
pub mod vm;

pub use event::AnyEvent;
pub use shared::Instant;
pub use shared::error::{Classify, Invalid, Refusal};
pub use shared::ids::*;
pub use shared::period::Period;

/// The pure core of an aggregate, for code that runs commands without a store (fixtures).
pub trait Decider: cqrs_es::Aggregate {
    fn decide(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    fn evolve(&mut self, event: &Self::Event);
}

/// Implements cqrs-es's `Aggregate` (and [`Decider`]) for a module that offers `decide` and `evolve`.
/// `handle` writes each decided event through the sink, which applies it at once.
macro_rules! aggregate {
    ($agg:ty, $type:literal, $cmd:ty, $event:ty, $err:ty) => {
        impl cqrs_es::Aggregate for $agg {
            // Storage key: renaming it orphans every stored event of this aggregate.
            const TYPE: &'static str = $type;
            type Command = $cmd;
            type Event = $event;
            type Error = $err;
            // Time, ids and facts about other aggregates arrive in the command, so replay needs no services.
            type Services = ();

            async fn handle(
                &mut self,
                command: Self::Command,
                _: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                for event in decide(self, command)? {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                evolve(self, &event)
            }
        }

        impl $crate::Decider for $agg {
            fn decide(&self, command: $cmd) -> Result<Vec<$event>, $err> {
                decide(self, command)
            }
            fn evolve(&mut self, event: &$event) {
                evolve(self, event)
            }
        }
    };
}

/// Implements cqrs-es's `DomainEvent` with the variant name as the stable event type.
macro_rules! event_names {
    ($event:ty { $($variant:ident),+ $(,)? }) => {
        impl cqrs_es::DomainEvent for $event {
            fn event_type(&self) -> String {
                match self { $(Self::$variant { .. } => stringify!($variant).to_owned(),)+ }
            }
            fn event_version(&self) -> String {
                "1.0".to_owned()
            }
        }
    };
}

pub(crate) use aggregate;
pub(crate) use event_names;
