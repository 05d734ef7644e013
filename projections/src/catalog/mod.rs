//! The catalog: the current state of every customer, person, project, VM and SSH key, with
//! the indexes that navigation needs (a customer's projects and people, a project's
//! children and VMs, a person's keys, the token index for authentication).
//!
//! Each entity's state is the domain aggregate's own state, folded with the domain's
//! `evolve`, so the catalog never re-implements a business rule. Every version is kept,
//! stamped with its log position, so [`Catalog::at`] answers for any past position without
//! a replay. The navigation indexes only ever grow (a VM that moved away stays listed
//! under its old project); a view filters them by the entity's state at its position.
//!
//! Versions superseded before the month before the latest recorded one are settled: kept
//! deflated and decoded only when a question reaches back to them (see [`Versions`]), so
//! a restart decodes the fleet as it is and its recent changes, not its whole history.
//!
//! Backups and monitor transitions are the exception, as they grow with the log even
//! where the fleet does not: the catalog keeps those that may still matter, and a question
//! about older ones is answered from the entity's own events (see [`backups`] and
//! [`transitions`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use domain::backup_log::BackupLogEvent;
use domain::customer::{self, Customer, CustomerEvent};
use domain::http_monitor::{self, HttpMonitor, HttpMonitorEvent};
use domain::invoice::{self, Invoice, InvoiceEvent};
use domain::maintenance_window::{self, MaintenanceEvent, MaintenanceWindow};
use domain::network::{Network, NetworkEvent};
use domain::person::{self, Person, PersonEvent};
use domain::price_list::{PriceListEvent, Prices};
use domain::project::{self, Project, ProjectEvent};
use domain::release::{self, ChannelEvent, ChannelSettings, Release, ReleaseEvent};
use domain::ssh_key::{self, SshKey, SshKeyEvent};
use domain::vm::{self, Vm, VmEvent};
use domain::{
    AnyEvent, CustomerId, Instant, InvoiceId, MaintenanceId, MonitorId, PersonId, ProjectId, ReleaseId, SshKeyId,
    TokenId, VmId,
};

use crate::Recorded;
use crate::versions::{ChunkAt, Settle, Versions};

#[cfg(test)]
mod tests;

mod at;
mod backups;
mod transitions;
pub use at::At;
pub use backups::{BackupRecord, BackupSeries, Backups, InLog};
pub use transitions::{TransitionRecord, TransitionSeries, from_events as transitions_from_events};

/// A published price list and the log position that recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceListRecord {
    pub recorded: i64,
    pub valid_from: Instant,
    pub prices: Prices,
}

/// A person's login on the platform's machines (the node API's `list_users`): the name
/// and number given when they were registered, in the order people were registered, so
/// every fold of the log gives the same and none is ever given twice or changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub uid: String,
    pub uid_number: u32,
}

/// The first login number (below it are the machines' own users).
pub const FIRST_UID_NUMBER: u32 = 1000;

/// Who a token belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenOwner {
    pub person_id: PersonId,
    pub token_id: TokenId,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// The last position folded in.
    pub position: i64,
    /// When the last event folded in was recorded.
    pub recorded_at: Option<Instant>,
    /// The position of the first event recorded in the month of `recorded_at`.
    month_began: i64,
    /// The backups and monitor transitions still to settle since that month began, a few
    /// VMs and monitors per event.
    series_settling: Option<SeriesSettling>,
    pub customers: Versions<CustomerId, Customer>,
    pub people: Versions<PersonId, Person>,
    /// Each person's login, given at registration.
    logins: BTreeMap<PersonId, Login>,
    /// The login names given, for the next one's choice.
    uids: BTreeSet<String>,
    /// The number the platform's machines know each project, VM and monitor by (the node
    /// API's `id`): 1, 2, 3, … in the order they were created, so never one twice.
    platform_numbers: BTreeMap<uuid::Uuid, u32>,
    /// Each resource group's project and each host name's VM: the names the platform's
    /// machines ask by, never given twice nor changed.
    resource_groups: BTreeMap<String, ProjectId>,
    hostnames: BTreeMap<String, VmId>,
    /// Every network with the position that defined it, in the order defined.
    pub networks: Vec<(i64, Network)>,
    /// Who holds each address and MAC now: allocation is always now, so these are live only.
    address_holders: BTreeMap<std::net::IpAddr, VmId>,
    mac_holders: BTreeMap<String, VmId>,
    pub projects: Versions<ProjectId, Project>,
    pub vms: Versions<VmId, Vm>,
    pub keys: Versions<SshKeyId, SshKey>,
    /// Each VM's backups that may still matter, in the order they were recorded.
    pub backups: BTreeMap<VmId, BackupSeries>,
    /// Monitors without their transitions, which are kept apart (a monitor's versions
    /// would otherwise copy its whole history at every transition).
    pub monitors: Versions<MonitorId, HttpMonitor>,
    /// Each monitor's transitions that may still matter, in effective order.
    pub transitions: BTreeMap<MonitorId, TransitionSeries>,
    pub maintenance: Versions<MaintenanceId, MaintenanceWindow>,
    pub releases: Versions<ReleaseId, Release>,
    /// Each release channel's settings, every version with its position.
    pub channels: BTreeMap<String, Vec<(i64, ChannelSettings)>>,
    pub invoices: Versions<InvoiceId, Invoice>,
    customer_invoices: BTreeMap<CustomerId, BTreeSet<InvoiceId>>,
    /// Every published price list, in the order published.
    pub price_lists: Vec<PriceListRecord>,
    project_monitors: BTreeMap<ProjectId, BTreeSet<MonitorId>>,
    project_maintenance: BTreeMap<ProjectId, BTreeSet<MaintenanceId>>,
    platform_maintenance: BTreeSet<MaintenanceId>,
    customer_projects: BTreeMap<CustomerId, BTreeSet<ProjectId>>,
    customer_people: BTreeMap<CustomerId, BTreeSet<PersonId>>,
    project_children: BTreeMap<ProjectId, BTreeSet<ProjectId>>,
    /// Every VM ever placed in the project.
    project_vms: BTreeMap<ProjectId, BTreeSet<VmId>>,
    /// Every key ever added for the person (a key re-added later may be someone else's).
    person_keys: BTreeMap<PersonId, BTreeSet<SshKeyId>>,
    /// SHA-256 (hex) of a token → its owner, live only (authentication is always now).
    /// Revoked tokens are removed.
    pub tokens: BTreeMap<String, TokenOwner>,
}

/// VMs (or monitors) whose series one settling step looks at: about a hundred kept backups
/// (or a few dozen transitions) each.
const SERIES_STEP: usize = 256;

/// A settling of the VMs' backups and the monitors' transitions under way: what ended (or
/// took effect) before `cut` leaves memory, as of the event at `position` that began the
/// month. Dropping a fleet's worth at once took tens of milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SeriesSettling {
    cut: Instant,
    position: i64,
    backups: Cursor<VmId>,
    transitions: Cursor<MonitorId>,
}

/// Where a settling goes on in one kind's series: after this key (from the start if
/// none); `None` once every series was looked at.
type Cursor<K> = Option<Option<K>>;

/// Applies `settle` to the next `n` series after the cursor and moves it on.
fn settle_some<K: Ord + Copy, V>(
    series: &mut BTreeMap<K, V>,
    cursor: &mut Cursor<K>,
    n: usize,
    mut settle: impl FnMut(&mut V),
) {
    let Some(after) = cursor else { return };
    let rest = match *after {
        Some(key) => series.range_mut((Bound::Excluded(key), Bound::Unbounded)),
        None => series.range_mut(..),
    };
    let looked = rest
        .take(n)
        .map(|(key, value)| {
            settle(value);
            *after = Some(*key);
        })
        .count();
    if looked < n {
        *cursor = None;
    }
}

fn id<T: std::str::FromStr>(aggregate_id: &str) -> Option<T> {
    aggregate_id.parse().ok()
}

impl Catalog {
    /// The storage key of the catalog's snapshots; bump the version whenever `apply`
    /// changes, so that snapshots folded by the old code are not used.
    /// (v19: monitor transitions settle.)
    pub const SNAPSHOT_MODEL: &'static str = "catalog/v19";

    /// The catalog as a snapshot stores it: its JSON, deflated. A large catalog's JSON
    /// passes PostgreSQL's 1 GB limit on one value (6.4 million events made about 1.1 GB);
    /// deflated it is a fraction of that. The JSON is streamed through deflate both ways,
    /// so it is never held whole in memory beside the catalog. (v7: the first deflated format.)
    pub fn to_snapshot(&self) -> Result<Vec<u8>, serde_json::Error> {
        let deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut out = std::io::BufWriter::with_capacity(1 << 16, deflate);
        serde_json::to_writer(&mut out, self)?;
        let deflate = out.into_inner().map_err(|e| serde_json::Error::io(e.into_error()))?;
        deflate.finish().map_err(serde_json::Error::io)
    }

    /// A catalog from a snapshot's bytes; `None` when they do not decode.
    pub fn from_snapshot(bytes: &[u8]) -> Option<Catalog> {
        let inflate = std::io::BufReader::with_capacity(1 << 16, flate2::read::ZlibDecoder::new(bytes));
        serde_json::from_reader(inflate).ok()
    }

    /// SHA-256 (hex) of the catalog's canonical form (its JSON, every map ordered), so two
    /// folds of the same log can be compared by anyone.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(serde_json::to_vec(self).expect("the catalog serialises")))
    }

    /// Folds stored events, skipping (and counting) any that do not decode.
    pub fn fold(&mut self, events: &[store::StoredEvent]) {
        for stored in events {
            match Recorded::decode(stored) {
                Ok(r) => self.apply(&r),
                Err(e) => {
                    // An undecodable event is a bug in an upcaster; skipping it keeps the
                    // server answering, and the metric makes it visible.
                    tracing::error!(position = stored.position, error = %e, "event not decodable; skipped");
                    metrics::counter!("directory_projection_undecodable_total").increment(1);
                    self.position = self.position.max(stored.position);
                    self.recorded_at = Some(stored.recorded_at);
                }
            }
        }
    }

    /// Folds one event. Events at or below the current position are ignored, so a replay
    /// that overlaps what was already folded changes nothing.
    pub fn apply(&mut self, e: &Recorded) {
        if e.position <= self.position {
            return;
        }
        let cut = backups::settle_before(e.recorded_at);
        let month = |t: Instant| (t.year(), t.month());
        if self.recorded_at.map(month) != Some(month(e.recorded_at)) {
            // A new month: what ended before the one before it leaves memory, and the
            // versions superseded before then are put away.
            while self.series_settling.is_some() {
                self.settle_series_step();
            }
            let (backups, transitions) = (Some(None), Some(None));
            self.series_settling = Some(SeriesSettling { cut, position: e.position, backups, transitions });
            self.start_settling(self.month_began);
            self.month_began = e.position;
        }
        // A settling moves on a step with each event, so that no one event pays for a whole
        // fleet. Settling later never changes an answer, and the steps depend only on the
        // events, so every fold of the log settles alike.
        self.settle_series_step();
        self.all_versions().into_iter().for_each(|v| v.settle_step());
        self.position = e.position;
        self.recorded_at = Some(e.recorded_at);
        match &e.event {
            AnyEvent::Customer(ev) => self.customer(&e.aggregate_id, e.position, ev),
            AnyEvent::Person(ev) => self.person(&e.aggregate_id, e.position, ev),
            AnyEvent::SshKey(ev) => self.ssh_key(&e.aggregate_id, e.position, ev),
            AnyEvent::Project(ev) => self.project(&e.aggregate_id, e.position, ev),
            AnyEvent::Vm(ev) => self.vm(&e.aggregate_id, e.position, ev),
            AnyEvent::BackupLog(ev) => self.backup(&e.aggregate_id, e.position, cut, ev),
            AnyEvent::HttpMonitor(ev) => self.monitor(&e.aggregate_id, e.position, cut, ev),
            AnyEvent::Maintenance(ev) => self.maintenance(&e.aggregate_id, e.position, ev),
            AnyEvent::Release(ev) => self.release(&e.aggregate_id, e.position, ev),
            AnyEvent::Invoice(ev) => self.invoice(&e.aggregate_id, e.position, ev),
            // The series only hands out numbers; the invoice's own events carry them.
            AnyEvent::InvoiceSeries(_) => {}
            // Runs are bookkeeping of the scheduler; the invoices show what they did.
            AnyEvent::BillingRun(_) => {}
            AnyEvent::ReleaseChannel(ChannelEvent::ChannelConfigured { settings }) => {
                self.channels.entry(settings.channel.clone()).or_default().push((e.position, settings.clone()));
            }
            AnyEvent::Network(NetworkEvent::NetworkDefined { network }) => {
                self.networks.push((e.position, network.clone()))
            }
            AnyEvent::PriceList(PriceListEvent::PriceListPublished { valid_from, prices }) => self
                .price_lists
                .push(PriceListRecord { recorded: e.position, valid_from: *valid_from, prices: prices.clone() }),
        }
    }

    fn customer(&mut self, aggregate_id: &str, position: i64, ev: &CustomerEvent) {
        let Some(cid) = id::<CustomerId>(aggregate_id) else { return };
        customer::evolve(self.customers.next(cid, position), ev);
    }

    fn person(&mut self, aggregate_id: &str, position: i64, ev: &PersonEvent) {
        let Some(pid) = id::<PersonId>(aggregate_id) else { return };
        let p = self.people.next(pid, position);
        person::evolve(p, ev);
        match ev {
            PersonEvent::PersonRegistered { customer_id, email, .. } => {
                if let Some(c) = customer_id {
                    self.customer_people.entry(*c).or_default().insert(pid);
                }
                if !self.logins.contains_key(&pid) {
                    // The name from the e-mail's local part, made unique; the next number.
                    let local = email.split('@').next().unwrap_or_default();
                    let uid =
                        domain::platform::candidates(local, 32).find(|c| !self.uids.contains(c)).expect("endless");
                    let uid_number = FIRST_UID_NUMBER + self.logins.len() as u32;
                    self.uids.insert(uid.clone());
                    self.logins.insert(pid, Login { uid, uid_number });
                }
            }
            PersonEvent::TokenIssued { token_id, sha256, .. } => {
                self.tokens.insert(sha256.clone(), TokenOwner { person_id: pid, token_id: *token_id });
            }
            PersonEvent::TokenRevoked { token_id, .. } => {
                if let Some(t) = p.tokens.get(token_id) {
                    self.tokens.remove(&t.sha256);
                }
            }
            _ => {}
        }
    }

    fn ssh_key(&mut self, aggregate_id: &str, position: i64, ev: &SshKeyEvent) {
        let Some(kid) = id::<SshKeyId>(aggregate_id) else { return };
        ssh_key::evolve(self.keys.next(kid, position), ev);
        if let SshKeyEvent::SshKeyAdded { person_id, .. } = ev {
            self.person_keys.entry(*person_id).or_default().insert(kid);
        }
    }

    fn project(&mut self, aggregate_id: &str, position: i64, ev: &ProjectEvent) {
        let Some(pid) = id::<ProjectId>(aggregate_id) else { return };
        let p = self.projects.next(pid, position);
        project::evolve(p, ev);
        if let ProjectEvent::ProjectCreated { customer_id, parent_id, .. } = ev {
            self.resource_groups.insert(p.resource_group.clone(), pid);
            self.number(pid.0);
            self.customer_projects.entry(*customer_id).or_default().insert(pid);
            if let Some(parent) = parent_id {
                self.project_children.entry(*parent).or_default().insert(pid);
            }
        }
    }

    fn vm(&mut self, aggregate_id: &str, position: i64, ev: &VmEvent) {
        let Some(vid) = id::<VmId>(aggregate_id) else { return };
        let v = self.vms.next(vid, position);
        let released: Vec<_> = match ev {
            VmEvent::VmAddressesReleased {} => v.interfaces.values().cloned().collect(),
            _ => vec![],
        };
        vm::evolve(v, ev);
        for interface in released {
            self.mac_holders.remove(&interface.mac);
            for address in interface.addresses.values() {
                self.address_holders.remove(address);
            }
        }
        if let VmEvent::VmAddressAssigned { assignment } = ev {
            self.address_holders.insert(assignment.address, vid);
            self.mac_holders.insert(assignment.mac.clone(), vid);
        }
        // Every project it was placed in: a move effective in the past changes the past too.
        for project in v.projects() {
            self.project_vms.entry(project).or_default().insert(vid);
        }
        if let VmEvent::VmProvisioned { .. } = ev {
            if let Some(node) = &v.node {
                self.hostnames.insert(node.hostname.clone(), vid);
            }
            self.number(vid.0);
        }
    }

    /// Gives a project, VM or monitor the next platform number, once.
    fn number(&mut self, id: uuid::Uuid) {
        let next = self.platform_numbers.len() as u32 + 1;
        self.platform_numbers.entry(id).or_insert(next);
    }

    fn backup(&mut self, aggregate_id: &str, position: i64, cut: Instant, ev: &BackupLogEvent) {
        let Some(vid) = id::<VmId>(aggregate_id) else { return };
        let series = self.backups.entry(vid).or_default();
        match ev {
            BackupLogEvent::BackupSucceeded { backup_id, finished_at, size_bytes, .. } => {
                series.succeeded(backup_id, position, *finished_at, *size_bytes)
            }
            BackupLogEvent::BackupFailed { finished_at, .. } => series.failed(position, *finished_at, cut),
            BackupLogEvent::BackupExpired { backup_id, at } => series.expired(backup_id, position, *at, cut),
        }
    }

    fn monitor(&mut self, aggregate_id: &str, position: i64, cut: Instant, ev: &HttpMonitorEvent) {
        let Some(mid) = id::<MonitorId>(aggregate_id) else { return };
        let transition = match ev {
            HttpMonitorEvent::MonitorWentDown { .. } | HttpMonitorEvent::MonitorRecovered { .. } => {
                let mut alone = HttpMonitor::default();
                http_monitor::evolve(&mut alone, ev);
                alone.transitions.pop()
            }
            _ => None,
        };
        match transition {
            Some(transition) => {
                let record = TransitionRecord { recorded: position, transition };
                self.transitions.entry(mid).or_default().add(record, cut, position);
            }
            None => {
                http_monitor::evolve(self.monitors.next(mid, position), ev);
                if let HttpMonitorEvent::HttpMonitorCreated { project_id, .. } = ev {
                    self.project_monitors.entry(*project_id).or_default().insert(mid);
                    self.number(mid.0);
                }
            }
        }
    }

    fn maintenance(&mut self, aggregate_id: &str, position: i64, ev: &MaintenanceEvent) {
        let Some(wid) = id::<MaintenanceId>(aggregate_id) else { return };
        maintenance_window::evolve(self.maintenance.next(wid, position), ev);
        if let MaintenanceEvent::MaintenanceScheduled { project_id, .. } = ev {
            match project_id {
                Some(p) => {
                    self.project_maintenance.entry(*p).or_default().insert(wid);
                }
                None => {
                    self.platform_maintenance.insert(wid);
                }
            }
        }
    }

    fn release(&mut self, aggregate_id: &str, position: i64, ev: &ReleaseEvent) {
        let Some(rid) = id::<ReleaseId>(aggregate_id) else { return };
        release::evolve(self.releases.next(rid, position), ev);
    }

    fn invoice(&mut self, aggregate_id: &str, position: i64, ev: &InvoiceEvent) {
        let Some(iid) = id::<InvoiceId>(aggregate_id) else { return };
        invoice::evolve(self.invoices.next(iid, position), ev);
        if let InvoiceEvent::InvoiceDrafted { content, .. } = ev {
            self.customer_invoices.entry(content.customer_id).or_default().insert(iid);
        }
    }

    /// Settles what ended before the cut in the backups of the next few VMs, and in the
    /// transitions of the next few monitors.
    fn settle_series_step(&mut self) {
        let Some(s) = &mut self.series_settling else { return };
        let (cut, position) = (s.cut, s.position);
        settle_some(&mut self.backups, &mut s.backups, SERIES_STEP, |b| b.settle_ended_before(cut, position));
        settle_some(&mut self.transitions, &mut s.transitions, SERIES_STEP, |t| t.settle_before(cut, position));
        if s.backups.is_none() && s.transitions.is_none() {
            self.series_settling = None;
        }
    }

    /// Every kind's versions, for what is done to all alike.
    fn all_versions(&mut self) -> [&mut dyn Settle; 9] {
        [
            &mut self.customers,
            &mut self.people,
            &mut self.projects,
            &mut self.vms,
            &mut self.keys,
            &mut self.monitors,
            &mut self.maintenance,
            &mut self.releases,
            &mut self.invoices,
        ]
    }

    fn start_settling(&mut self, position: i64) {
        self.all_versions().into_iter().for_each(|v| v.start_settling(position));
    }

    /// Finishes a settling under way at once, as if the events that would move it on in
    /// steps had been folded (what a settling cost before it was done in steps).
    pub fn finish_settling(&mut self) {
        while self.series_settling.is_some() {
            self.settle_series_step();
        }
        for versions in self.all_versions() {
            while versions.settling() {
                versions.settle_step();
            }
        }
    }

    /// The bytes of JSON decoded from settled versions for questions about the past.
    pub fn past_decoded_bytes(&self) -> usize {
        let kinds: [&dyn Settle; 9] = [
            &self.customers,
            &self.people,
            &self.projects,
            &self.vms,
            &self.keys,
            &self.monitors,
            &self.maintenance,
            &self.releases,
            &self.invoices,
        ];
        kinds.iter().map(|v| v.decoded_bytes()).sum()
    }

    /// Gives back the least recently read of the versions decoded for questions about the
    /// past (by [`crate::versions::tick`]) until at most three quarters of `budget` bytes
    /// stay decoded, when more than `budget` are; answers the bytes given back.
    pub fn evict_past(&mut self, budget: usize) -> usize {
        let before = self.past_decoded_bytes();
        if before <= budget {
            return 0;
        }
        let mut decoded: Vec<(u64, usize, usize, ChunkAt)> = vec![];
        for (kind, versions) in self.all_versions().into_iter().enumerate() {
            decoded.extend(versions.decoded_chunks().into_iter().map(|(used, bytes, at)| (used, bytes, kind, at)));
        }
        decoded.sort_by_key(|(used, ..)| *used);
        let (mut left, target) = (before, budget / 4 * 3);
        let mut evict: [Vec<ChunkAt>; 9] = Default::default();
        for (_, bytes, kind, at) in decoded {
            if left <= target {
                break;
            }
            left -= bytes;
            evict[kind].push(at);
        }
        for (versions, chunks) in self.all_versions().into_iter().zip(&evict) {
            versions.evict(chunks);
        }
        before - self.past_decoded_bytes()
    }

    /// How many entity versions are decoded and how many are settled.
    pub fn version_counts(&self) -> (usize, usize) {
        [
            self.customers.counts(),
            self.people.counts(),
            self.projects.counts(),
            self.vms.counts(),
            self.keys.counts(),
            self.monitors.counts(),
            self.maintenance.counts(),
            self.releases.counts(),
            self.invoices.counts(),
        ]
        .into_iter()
        .fold((0, 0), |(d, s), (d2, s2)| (d + d2, s + s2))
    }

    /// The live view.
    pub fn live(&self) -> At<'_> {
        At::new(self, self.position)
    }

    /// The view after the log was folded up to `position` (clamped to what was folded).
    pub fn at(&self, position: i64) -> At<'_> {
        At::new(self, position.min(self.position))
    }
}
