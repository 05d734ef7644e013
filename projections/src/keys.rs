//! Key access, by the contract's rules: the recipients of a deployment's secrets are the
//! active SSH keys of the project's MEMBERs and MANAGERs (on it or an ancestor) and of
//! staff with OPS, never of deactivated people, sorted by fingerprint. A key that was a
//! recipient when the secrets were last encrypted (the last `SecretsRekeyed`, or the
//! deployment's creation) and is no longer one makes the deployment need re-keying.

use std::collections::BTreeMap;

use domain::person::{Role, StaffRole};
use domain::ssh_key::SshKey;
use domain::{PersonId, ProjectId, SshKeyId};

use crate::catalog::At;

/// One recipient: the key and whose it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipient<'a> {
    pub id: SshKeyId,
    pub key: &'a SshKey,
    pub person: PersonId,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Access<'a> {
    pub recipients: Vec<Recipient<'a>>,
    /// Each key that left the set since the last re-encryption, and why.
    pub rekey_reasons: Vec<String>,
}

impl<'a> At<'a> {
    /// The recipients of a deployment's secrets at this view; none when the project or
    /// the deployment does not exist.
    pub fn recipients(&self, project: ProjectId, deployment: &str) -> Option<Vec<Recipient<'a>>> {
        let p = self.project(&project)?;
        if !p.deployments.contains_key(deployment) {
            return None;
        }
        let customer = p.customer_id?;
        let members = self
            .people_of(customer)
            .filter(|person| self.effective_role(*person, project).is_some_and(|r| r >= Role::Member));
        let ops = self
            .people()
            .filter(|(_, x)| x.customer_id.is_none() && x.staff_roles.contains(&StaffRole::Ops))
            .map(|(id, _)| *id);
        let mut keys: BTreeMap<String, Recipient<'a>> = BTreeMap::new();
        for person in members.chain(ops.collect::<Vec<_>>()) {
            if self.person(&person).is_none_or(|x| x.deactivated_at.is_some()) {
                continue;
            }
            for id in self.keys_of(person) {
                if let Some(key) = self.key(&id).filter(|k| k.revoked_at.is_none()) {
                    keys.insert(key.fingerprint.clone(), Recipient { id, key, person });
                }
            }
        }
        Some(keys.into_values().collect())
    }

    /// The position the deployment's secrets were last encrypted at: its last re-keying,
    /// or its creation.
    fn encrypted_at(&self, project: ProjectId, deployment: &str) -> Option<i64> {
        let now = self.project(&project)?;
        let since = now.rekeyed_at.get(deployment);
        self.catalog().projects.positions_at(&project, self.position()).into_iter().find(|p| {
            self.catalog().projects.get_at(&project, *p).is_some_and(|v| match since {
                Some(at) => v.rekeyed_at.get(deployment) == Some(at),
                None => v.deployments.contains_key(deployment),
            })
        })
    }

    /// Whether a key of a person is a recipient of the deployment at this view.
    fn is_recipient(&self, project: ProjectId, deployment: &str, key: SshKeyId, person: PersonId) -> bool {
        let deployed = self.project(&project).is_some_and(|p| p.deployments.contains_key(deployment));
        let active_key = self.key(&key).is_some_and(|k| k.revoked_at.is_none() && k.person_id == Some(person));
        let access = self.person(&person).is_some_and(|p| {
            p.deactivated_at.is_none()
                && match p.customer_id {
                    None => p.staff_roles.contains(&StaffRole::Ops),
                    Some(_) => self.effective_role(person, project).is_some_and(|r| r >= Role::Member),
                }
        });
        deployed && active_key && access
    }

    /// The recipients and, if keys left the set since the secrets were last encrypted,
    /// why each one left. A key left when it was a recipient at some position since then
    /// and is not one now; membership only changes at the positions of the key's, the
    /// person's and the project tree's events, so those are the ones looked at.
    pub fn access(&self, project: ProjectId, deployment: &str) -> Option<Access<'a>> {
        let recipients = self.recipients(project, deployment)?;
        let since = self.encrypted_at(project, deployment).unwrap_or(0);
        let customer = self.customer_of_project(project)?;
        let staff: Vec<PersonId> = self.people().filter(|(_, p)| p.customer_id.is_none()).map(|(id, _)| *id).collect();
        let tree: Vec<i64> = self
            .ancestry(project)
            .iter()
            .flat_map(|p| self.catalog().projects.positions_at(p, self.position()))
            .collect();
        let mut rekey_reasons = vec![];
        for person in self.people_of(customer).chain(staff) {
            for key in self.keys_of(person) {
                let Some(k) = self.key(&key) else { continue };
                if recipients.iter().any(|r| r.key.fingerprint == k.fingerprint) {
                    continue;
                }
                let mut positions: Vec<i64> = tree.clone();
                positions.extend(self.catalog().keys.positions_at(&key, self.position()));
                positions.extend(self.catalog().people.positions_at(&person, self.position()));
                positions.push(since);
                let was = positions
                    .into_iter()
                    .filter(|p| *p >= since)
                    .any(|p| self.catalog().at(p).is_recipient(project, deployment, key, person));
                if was {
                    let old = Recipient { id: key, key: k, person };
                    rekey_reasons.push((
                        k.fingerprint.clone(),
                        format!("{} left: {}", k.fingerprint, self.why_gone(project, &old)),
                    ));
                }
            }
        }
        rekey_reasons.sort();
        Some(Access { recipients, rekey_reasons: rekey_reasons.into_iter().map(|(_, r)| r).collect() })
    }

    fn why_gone(&self, project: ProjectId, old: &Recipient<'_>) -> String {
        let key = self.key(&old.id);
        if let Some(k) = key.filter(|k| k.revoked_at.is_some()) {
            return format!("key revoked ({})", k.revoke_reason.as_deref().unwrap_or("no reason given"));
        }
        if key.is_some_and(|k| k.person_id != Some(old.person)) {
            return "key now belongs to someone else".into();
        }
        match self.person(&old.person) {
            Some(p) if p.deactivated_at.is_some() => format!("{} was deactivated", p.name),
            Some(p) if p.customer_id.is_none() => format!("{} no longer has the OPS role", p.name),
            Some(p) => format!("{} no longer holds MEMBER or MANAGER on the project", p.name),
            None if self.project(&project).is_some() => "its owner is gone".into(),
            None => "the project is gone".into(),
        }
    }
}
