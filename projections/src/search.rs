//! Admin navigation: find anything by a part of its name (or e-mail, key comment, key
//! fingerprint), with the path that leads to it: customer → projects from the root → VM.

use domain::{CustomerId, ProjectId};

use crate::catalog::At;

/// One step of the path to a thing found, as a link to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// `customer`, `project`, `vm`, `person` or `sshKey`.
    pub kind: &'static str,
    pub id: String,
    pub name: String,
}

impl Step {
    fn new(kind: &'static str, id: impl ToString, name: &str) -> Step {
        Step { kind, id: id.to_string(), name: name.to_owned() }
    }
}

/// One thing found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// `customer`, `project`, `vm`, `person` or `sshKey`.
    pub kind: &'static str,
    pub id: String,
    pub title: String,
    /// Where it sits, the thing itself last.
    pub path: Vec<Step>,
    /// The customer it belongs to (none for staff and their keys).
    pub customer: Option<CustomerId>,
    /// 0 for an exact match, 1 for a prefix, 2 for a match elsewhere.
    rank: u8,
}

fn rank(haystacks: &[&str], needle: &str) -> Option<u8> {
    haystacks
        .iter()
        .filter_map(|h| {
            let h = h.to_lowercase();
            if h == needle {
                Some(0)
            } else if h.starts_with(needle) {
                Some(1)
            } else if h.contains(needle) {
                Some(2)
            } else {
                None
            }
        })
        .min()
}

impl At<'_> {
    /// The customer, then the project and its ancestors from the root down.
    pub fn project_steps(&self, project: ProjectId) -> Vec<Step> {
        let mut path: Vec<Step> = self
            .ancestry(project)
            .iter()
            .rev()
            .filter_map(|p| self.project(p).map(|x| Step::new("project", p, &x.name)))
            .collect();
        if let Some((id, c)) = self.customer_of_project(project).and_then(|id| self.customer(&id).map(|c| (id, c))) {
            path.insert(0, Step::new("customer", id, &c.name));
        }
        path
    }

    fn customer_step(&self, customer: Option<CustomerId>) -> Option<Step> {
        customer.and_then(|id| self.customer(&id).map(|c| Step::new("customer", id, &c.name)))
    }

    /// Up to `first` things whose name (or e-mail, key comment, fingerprint) contains
    /// `needle` (lower case), best matches first, among those `visible` lets through.
    pub fn search(&self, needle: &str, first: usize, visible: impl Fn(Option<CustomerId>) -> bool) -> Vec<Hit> {
        let mut hits = vec![];
        let mut push = |kind, id: String, title: String, path, customer, rank| {
            if visible(customer) {
                hits.push(Hit { kind, id, title, path, customer, rank });
            }
        };
        for (id, c) in self.customers() {
            if let Some(r) = rank(&[&c.name], needle) {
                push(
                    "customer",
                    id.to_string(),
                    c.name.clone(),
                    vec![Step::new("customer", id, &c.name)],
                    Some(*id),
                    r,
                );
            }
        }
        for (id, p) in self.projects() {
            if let Some(r) = rank(&[&p.name], needle) {
                push("project", id.to_string(), p.name.clone(), self.project_steps(*id), p.customer_id, r);
            }
        }
        for (id, v) in self.vms() {
            if let Some(r) = rank(&[&v.name], needle) {
                let mut path = v.current().map(|c| self.project_steps(c.project_id)).unwrap_or_default();
                path.push(Step::new("vm", id, &v.name));
                push("vm", id.to_string(), v.name.clone(), path, v.customer_id, r);
            }
        }
        for (id, p) in self.people() {
            if let Some(r) = rank(&[&p.name, &p.email], needle) {
                let mut path: Vec<Step> = self.customer_step(p.customer_id).into_iter().collect();
                path.push(Step::new("person", id, &p.name));
                push("person", id.to_string(), p.name.clone(), path, p.customer_id, r);
            }
        }
        for (id, k) in self.keys() {
            let comment = k.comment.as_deref().unwrap_or_default();
            if let Some(r) = rank(&[&k.fingerprint, comment], needle) {
                let owner = k.person_id.and_then(|p| self.person(&p).map(|o| (p, o)));
                let customer = owner.and_then(|(_, o)| o.customer_id);
                let mut path: Vec<Step> = self.customer_step(customer).into_iter().collect();
                path.extend(owner.map(|(p, o)| Step::new("person", p, &o.name)));
                path.push(Step::new("sshKey", id, &k.fingerprint));
                push("sshKey", id.to_string(), k.fingerprint.clone(), path, customer, r);
            }
        }
        hits.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.title.cmp(&b.title)).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(first);
        hits
    }
}
