//! The catalog: the current state of every customer, person, project, VM and SSH key, with
//! the indexes that navigation needs (a customer's projects and people, a project's
//! children and VMs, a person's keys, the token index for authentication).
//!
//! Each entity's state is the domain aggregate's own state, folded with the domain's
//! `evolve`, so the catalog never re-implements a business rule.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use domain::backup_log::{BackupLogEvent, BackupStatus};
use domain::customer::{self, Customer, CustomerEvent};
use domain::person::{self, Person, PersonEvent};
use domain::project::{self, Project, ProjectEvent};
use domain::ssh_key::{self, SshKey, SshKeyEvent};
use domain::vm::{self, Vm, VmEvent};
use domain::{AnyEvent, CustomerId, Instant, PersonId, ProjectId, SshKeyId, TokenId, VmId};

use crate::Recorded;

#[cfg(test)]
mod tests;

/// One backup as reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupView {
    pub backup_id: String,
    pub vm_id: VmId,
    pub status: BackupStatus,
    pub started_at: Instant,
    pub finished_at: Instant,
    pub size_bytes: Option<i64>,
    pub tags: Vec<String>,
    pub error: Option<String>,
    pub expired_at: Option<Instant>,
}

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
    pub customers: BTreeMap<CustomerId, Customer>,
    pub people: BTreeMap<PersonId, Person>,
    pub projects: BTreeMap<ProjectId, Project>,
    pub vms: BTreeMap<VmId, Vm>,
    pub keys: BTreeMap<SshKeyId, SshKey>,
    pub backups: BTreeMap<VmId, BTreeMap<String, BackupView>>,
    pub customer_projects: BTreeMap<CustomerId, BTreeSet<ProjectId>>,
    pub customer_people: BTreeMap<CustomerId, BTreeSet<PersonId>>,
    pub project_children: BTreeMap<ProjectId, BTreeSet<ProjectId>>,
    pub project_vms: BTreeMap<ProjectId, BTreeSet<VmId>>,
    pub person_keys: BTreeMap<PersonId, BTreeSet<SshKeyId>>,
    /// SHA-256 (hex) of a token → its owner. Revoked tokens are removed.
    pub tokens: BTreeMap<String, TokenOwner>,
}

fn id<T: std::str::FromStr>(aggregate_id: &str) -> Option<T> {
    aggregate_id.parse().ok()
}

impl Catalog {
    /// The storage key of the catalog's snapshots; bump the version whenever `apply`
    /// changes, so that snapshots folded by the old code are not used.
    pub const SNAPSHOT_MODEL: &'static str = "catalog/v2";

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
        self.position = e.position;
        self.recorded_at = Some(e.recorded_at);
        match &e.event {
            AnyEvent::Customer(ev) => self.customer(&e.aggregate_id, ev),
            AnyEvent::Person(ev) => self.person(&e.aggregate_id, ev),
            AnyEvent::SshKey(ev) => self.ssh_key(&e.aggregate_id, ev),
            AnyEvent::Project(ev) => self.project(&e.aggregate_id, ev),
            AnyEvent::Vm(ev) => self.vm(&e.aggregate_id, ev),
            AnyEvent::BackupLog(ev) => self.backup(&e.aggregate_id, ev),
        }
    }

    fn customer(&mut self, aggregate_id: &str, ev: &CustomerEvent) {
        let Some(cid) = id::<CustomerId>(aggregate_id) else { return };
        customer::evolve(self.customers.entry(cid).or_default(), ev);
    }

    fn person(&mut self, aggregate_id: &str, ev: &PersonEvent) {
        let Some(pid) = id::<PersonId>(aggregate_id) else { return };
        let p = self.people.entry(pid).or_default();
        person::evolve(p, ev);
        match ev {
            PersonEvent::PersonRegistered { customer_id: Some(c), .. } => {
                self.customer_people.entry(*c).or_default().insert(pid);
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

    fn ssh_key(&mut self, aggregate_id: &str, ev: &SshKeyEvent) {
        let Some(kid) = id::<SshKeyId>(aggregate_id) else { return };
        let k = self.keys.entry(kid).or_default();
        if let (SshKeyEvent::SshKeyAdded { person_id, .. }, Some(previous)) = (ev, k.person_id) {
            // A key re-added after revocation may belong to someone else now.
            if previous != *person_id
                && let Some(keys) = self.person_keys.get_mut(&previous)
            {
                keys.remove(&kid);
            }
        }
        ssh_key::evolve(k, ev);
        if let SshKeyEvent::SshKeyAdded { person_id, .. } = ev {
            self.person_keys.entry(*person_id).or_default().insert(kid);
        }
    }

    fn project(&mut self, aggregate_id: &str, ev: &ProjectEvent) {
        let Some(pid) = id::<ProjectId>(aggregate_id) else { return };
        project::evolve(self.projects.entry(pid).or_default(), ev);
        if let ProjectEvent::ProjectCreated { customer_id, parent_id, .. } = ev {
            self.customer_projects.entry(*customer_id).or_default().insert(pid);
            if let Some(parent) = parent_id {
                self.project_children.entry(*parent).or_default().insert(pid);
            }
        }
    }

    fn vm(&mut self, aggregate_id: &str, ev: &VmEvent) {
        let Some(vid) = id::<VmId>(aggregate_id) else { return };
        let v = self.vms.entry(vid).or_default();
        let before = v.current().map(|c| c.project_id);
        vm::evolve(v, ev);
        let after = v.current().map(|c| c.project_id);
        if before != after {
            if let Some(p) = before
                && let Some(set) = self.project_vms.get_mut(&p)
            {
                set.remove(&vid);
            }
            if let Some(p) = after {
                self.project_vms.entry(p).or_default().insert(vid);
            }
        }
    }

    fn backup(&mut self, aggregate_id: &str, ev: &BackupLogEvent) {
        let Some(vid) = id::<VmId>(aggregate_id) else { return };
        let backups = self.backups.entry(vid).or_default();
        match ev {
            BackupLogEvent::BackupSucceeded { backup_id, started_at, finished_at, size_bytes, tags, .. } => {
                backups.insert(
                    backup_id.clone(),
                    BackupView {
                        backup_id: backup_id.clone(),
                        vm_id: vid,
                        status: BackupStatus::Succeeded,
                        started_at: *started_at,
                        finished_at: *finished_at,
                        size_bytes: Some(*size_bytes),
                        tags: tags.clone(),
                        error: None,
                        expired_at: None,
                    },
                );
            }
            BackupLogEvent::BackupFailed { backup_id, started_at, finished_at, error, .. } => {
                backups.insert(
                    backup_id.clone(),
                    BackupView {
                        backup_id: backup_id.clone(),
                        vm_id: vid,
                        status: BackupStatus::Failed,
                        started_at: *started_at,
                        finished_at: *finished_at,
                        size_bytes: None,
                        tags: vec![],
                        error: Some(error.clone()),
                        expired_at: None,
                    },
                );
            }
            BackupLogEvent::BackupExpired { backup_id, at } => {
                if let Some(b) = backups.get_mut(backup_id) {
                    b.expired_at = Some(*at);
                }
            }
        }
    }

    /// The finish time of the VM's latest successful backup.
    pub fn last_good_backup(&self, vm: VmId) -> Option<Instant> {
        self.backups.get(&vm)?.values().filter(|b| b.status == BackupStatus::Succeeded).map(|b| b.finished_at).max()
    }

    /// The project and its ancestors, nearest first.
    pub fn ancestry(&self, project: ProjectId) -> Vec<ProjectId> {
        let mut chain = vec![];
        let mut next = Some(project);
        while let Some(p) = next {
            if chain.contains(&p) {
                break;
            }
            chain.push(p);
            next = self.projects.get(&p).and_then(|p| p.parent_id);
        }
        chain
    }

    /// The strongest role a person holds on a project, directly or through an ancestor.
    pub fn effective_role(&self, person: PersonId, project: ProjectId) -> Option<person::Role> {
        let roles = &self.people.get(&person)?.roles;
        self.ancestry(project).iter().filter_map(|p| roles.get(p).copied()).max()
    }

    /// The customer an entity belongs to, for tenancy checks.
    pub fn customer_of_project(&self, project: ProjectId) -> Option<CustomerId> {
        self.projects.get(&project)?.customer_id
    }
}
