//! The catalog as it stood after the log was folded up to one position: the live view
//! (at the last folded position) and every "as of" view are the same code.

use std::collections::{BTreeMap, BTreeSet};

use domain::customer::Customer;
use domain::http_monitor::{HttpMonitor, Transition};
use domain::invoice::Invoice;
use domain::maintenance_window::MaintenanceWindow;
use domain::person::{Person, Role};
use domain::project::Project;
use domain::release::Release;
use domain::ssh_key::SshKey;
use domain::vm::Vm;
use domain::{
    CustomerId, Instant, InvoiceId, MaintenanceId, MonitorId, PersonId, ProjectId, ReleaseId, SshKeyId, VmId,
};
use serde::Serialize;

use super::{Backups, Catalog, InLog, PriceListRecord};

#[derive(Clone, Copy)]
pub struct At<'a> {
    catalog: &'a Catalog,
    position: i64,
}

/// Everything a view shows, in canonical form: two views that show the same are equal.
/// Backups and monitor transitions apart: [`At::backups`] and [`At::transitions`] answer
/// them the same from memory or from the log.
#[derive(Debug, PartialEq, Serialize)]
pub struct State {
    pub customers: BTreeMap<CustomerId, Customer>,
    pub people: BTreeMap<PersonId, Person>,
    pub projects: BTreeMap<ProjectId, Project>,
    pub vms: BTreeMap<VmId, Vm>,
    pub keys: BTreeMap<SshKeyId, SshKey>,
    pub customer_projects: BTreeMap<CustomerId, Vec<ProjectId>>,
    pub customer_people: BTreeMap<CustomerId, Vec<PersonId>>,
    pub project_children: BTreeMap<ProjectId, Vec<ProjectId>>,
    pub project_vms: BTreeMap<ProjectId, Vec<VmId>>,
    pub person_keys: BTreeMap<PersonId, Vec<SshKeyId>>,
    pub monitors: BTreeMap<MonitorId, HttpMonitor>,
    pub maintenance: BTreeMap<MaintenanceId, MaintenanceWindow>,
    pub project_monitors: BTreeMap<ProjectId, Vec<MonitorId>>,
    pub project_maintenance: BTreeMap<ProjectId, Vec<MaintenanceId>>,
    pub price_lists: Vec<PriceListRecord>,
    pub releases: BTreeMap<ReleaseId, Release>,
    pub invoices: BTreeMap<InvoiceId, Invoice>,
    pub customer_invoices: BTreeMap<CustomerId, Vec<InvoiceId>>,
}

/// The members of an index entry that `keep` lets through.
fn members<'a, V: Copy + Ord + 'a>(
    entry: Option<&'a BTreeSet<V>>,
    keep: impl Fn(V) -> bool + 'a,
) -> impl Iterator<Item = V> + 'a {
    entry.into_iter().flatten().copied().filter(move |v| keep(*v))
}

impl<'a> At<'a> {
    pub(super) fn new(catalog: &'a Catalog, position: i64) -> At<'a> {
        At { catalog, position }
    }

    pub(crate) fn catalog(&self) -> &'a Catalog {
        self.catalog
    }

    /// The last position this view includes.
    pub fn position(&self) -> i64 {
        self.position
    }

    pub fn customer(&self, id: &CustomerId) -> Option<&'a Customer> {
        self.catalog.customers.get_at(id, self.position)
    }

    pub fn customers(&self) -> impl Iterator<Item = (&'a CustomerId, &'a Customer)> {
        self.catalog.customers.iter_at(self.position)
    }

    pub fn person(&self, id: &PersonId) -> Option<&'a Person> {
        self.catalog.people.get_at(id, self.position)
    }

    pub fn people(&self) -> impl Iterator<Item = (&'a PersonId, &'a Person)> {
        self.catalog.people.iter_at(self.position)
    }

    pub fn project(&self, id: &ProjectId) -> Option<&'a Project> {
        self.catalog.projects.get_at(id, self.position)
    }

    pub fn projects(&self) -> impl Iterator<Item = (&'a ProjectId, &'a Project)> {
        self.catalog.projects.iter_at(self.position)
    }

    pub fn vm(&self, id: &VmId) -> Option<&'a Vm> {
        self.catalog.vms.get_at(id, self.position)
    }

    /// The VM a host name belongs to, if it exists in this view (decommissioned or not).
    pub fn vm_by_hostname(&self, hostname: &str) -> Option<(VmId, &'a Vm)> {
        let id = *self.catalog.hostnames.get(hostname)?;
        Some((id, self.vm(&id)?))
    }

    /// The project a resource group belongs to, if it exists in this view.
    pub fn project_by_resource_group(&self, resource_group: &str) -> Option<(ProjectId, &'a Project)> {
        let id = *self.catalog.resource_groups.get(resource_group)?;
        Some((id, self.project(&id)?))
    }

    /// Every network defined in this view, in the order defined.
    pub fn networks(&self) -> impl Iterator<Item = &'a domain::network::Network> + 'a {
        let position = self.position;
        self.catalog.networks.iter().take_while(move |(at, _)| *at <= position).map(|(_, n)| n)
    }

    /// The VM that holds an address now, whatever this view's position: allocation is always now.
    pub fn address_holder(&self, address: &std::net::IpAddr) -> Option<VmId> {
        self.catalog.address_holders.get(address).copied()
    }

    /// The VM whose interface has a MAC now, whatever this view's position.
    pub fn mac_holder(&self, mac: &str) -> Option<VmId> {
        self.catalog.mac_holders.get(mac).copied()
    }

    pub fn vms(&self) -> impl Iterator<Item = (&'a VmId, &'a Vm)> {
        self.catalog.vms.iter_at(self.position)
    }

    pub fn key(&self, id: &SshKeyId) -> Option<&'a SshKey> {
        self.catalog.keys.get_at(id, self.position)
    }

    pub fn keys(&self) -> impl Iterator<Item = (&'a SshKeyId, &'a SshKey)> {
        self.catalog.keys.iter_at(self.position)
    }

    /// Every project of the customer, roots and descendants.
    pub fn projects_of(&self, customer: CustomerId) -> impl Iterator<Item = ProjectId> + 'a {
        let at = *self;
        members(self.catalog.customer_projects.get(&customer), move |p| at.project(&p).is_some())
    }

    pub fn people_of(&self, customer: CustomerId) -> impl Iterator<Item = PersonId> + 'a {
        let at = *self;
        members(self.catalog.customer_people.get(&customer), move |p| at.person(&p).is_some())
    }

    pub fn children(&self, project: ProjectId) -> impl Iterator<Item = ProjectId> + 'a {
        let at = *self;
        members(self.catalog.project_children.get(&project), move |p| at.project(&p).is_some())
    }

    /// The VMs whose latest configuration places them in the project (decommissioned ones included).
    pub fn vms_in(&self, project: ProjectId) -> impl Iterator<Item = VmId> + 'a {
        let at = *self;
        members(self.catalog.project_vms.get(&project), move |v| {
            at.vm(&v).and_then(|v| v.current()).is_some_and(|c| c.project_id == project)
        })
    }

    /// Every VM that was ever placed in the project, wherever it is now.
    pub fn vms_ever_in(&self, project: ProjectId) -> impl Iterator<Item = VmId> + 'a {
        let at = *self;
        members(self.catalog.project_vms.get(&project), move |v| at.vm(&v).is_some())
    }

    /// The keys the person holds (active and revoked).
    pub fn keys_of(&self, person: PersonId) -> impl Iterator<Item = SshKeyId> + 'a {
        let at = *self;
        members(self.catalog.person_keys.get(&person), move |k| at.key(&k).is_some_and(|k| k.person_id == Some(person)))
    }

    /// A monitor without its transitions (its settings and state of checking), which
    /// [`At::transitions`] answers.
    pub fn monitor(&self, id: &MonitorId) -> Option<&'a HttpMonitor> {
        self.catalog.monitors.get_at(id, self.position)
    }

    /// The monitor's transitions known at this view from its state at `since` on: the
    /// latest that took effect by `since`, then every later one, in effective order.
    /// [`InLog`] when some that matter were settled: [`crate::monitor_log`] reads them.
    pub fn transitions(&self, id: &MonitorId, since: Instant) -> Result<Vec<Transition>, InLog> {
        match self.catalog.transitions.get(id) {
            Some(series) => series.at(self.position, since),
            None => Ok(vec![]),
        }
    }

    /// The monitor with its latest transition at this view (its state then), or [`InLog`].
    pub fn monitor_with_state(&self, id: &MonitorId) -> Option<Result<HttpMonitor, InLog>> {
        let monitor = self.monitor(id)?;
        Some(self.transitions(id, Instant::MAX_UTC).map(|last| HttpMonitor { transitions: last, ..monitor.clone() }))
    }

    /// The project's monitors (deleted ones included).
    pub fn monitors_of(&self, project: ProjectId) -> impl Iterator<Item = MonitorId> + 'a {
        let at = *self;
        members(self.catalog.project_monitors.get(&project), move |m| {
            at.catalog.monitors.get_at(&m, at.position).is_some()
        })
    }

    pub fn maintenance_window(&self, id: &MaintenanceId) -> Option<&'a MaintenanceWindow> {
        self.catalog.maintenance.get_at(id, self.position)
    }

    /// The windows that apply to a project: its own and the platform's (cancelled ones included).
    pub fn maintenance_for(&self, project: ProjectId) -> impl Iterator<Item = MaintenanceId> + 'a {
        let at = *self;
        let own = self.catalog.project_maintenance.get(&project).into_iter().flatten();
        own.chain(&self.catalog.platform_maintenance).copied().filter(move |w| at.maintenance_window(w).is_some())
    }

    pub fn invoice(&self, id: &InvoiceId) -> Option<&'a Invoice> {
        self.catalog.invoices.get_at(id, self.position)
    }

    /// The customer's invoices and cancellation invoices (drafts included).
    pub fn invoices_of(&self, customer: CustomerId) -> impl Iterator<Item = InvoiceId> + 'a {
        let at = *self;
        members(self.catalog.customer_invoices.get(&customer), move |i| at.invoice(&i).is_some())
    }

    /// The positions of the events that made an entity what it is at this view.
    pub fn vm_events(&self, id: &VmId) -> Vec<i64> {
        self.catalog.vms.positions_at(id, self.position)
    }

    pub fn customer_events(&self, id: &CustomerId) -> Vec<i64> {
        self.catalog.customers.positions_at(id, self.position)
    }

    pub fn project_events(&self, id: &ProjectId) -> Vec<i64> {
        self.catalog.projects.positions_at(id, self.position)
    }

    pub fn monitor_events(&self, id: &MonitorId) -> Vec<i64> {
        self.catalog.monitors.positions_at(id, self.position)
    }

    /// A release channel's settings at this view (the defaults until configured).
    pub fn channel(&self, name: &str) -> domain::release::ChannelSettings {
        self.catalog
            .channels
            .get(name)
            .and_then(|versions| versions.iter().rev().find(|(p, _)| *p <= self.position))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| domain::release::ChannelSettings::default_for(name))
    }

    pub fn release(&self, id: &ReleaseId) -> Option<&'a Release> {
        self.catalog.releases.get_at(id, self.position)
    }

    /// The platform's own monitors of a release channel that were being checked at
    /// `instant` (by effective time), for the release policy, which asks which were down.
    pub fn platform_monitors(&self, channel: &str, instant: Instant) -> Vec<MonitorId> {
        let Some(platform) = self.channel(channel).platform_project else { return vec![] };
        let mut projects = vec![platform];
        let mut i = 0;
        while i < projects.len() {
            let children: Vec<ProjectId> = self.children(projects[i]).collect();
            projects.extend(children);
            i += 1;
        }
        projects
            .iter()
            .flat_map(|p| self.monitors_of(*p).collect::<Vec<_>>())
            .filter(|m| self.monitor(m).is_some_and(|m| m.active_at(instant)))
            .collect()
    }

    pub fn releases(&self) -> impl Iterator<Item = (&'a ReleaseId, &'a Release)> {
        self.catalog.releases.iter_at(self.position)
    }

    /// The price lists published by this position, by `valid_from`.
    pub fn price_lists(&self) -> Vec<&'a PriceListRecord> {
        let published = &self.catalog.price_lists;
        let mut lists: Vec<_> =
            published[..published.partition_point(|r| r.recorded <= self.position)].iter().collect();
        lists.sort_by_key(|r| r.valid_from);
        lists
    }

    /// The VM's backups as known at this position that matter from `since` on, or
    /// [`InLog`] when the catalog no longer keeps some that might.
    pub fn backups(&self, vm: VmId, since: Instant) -> Result<Backups, InLog> {
        match self.catalog.backups.get(&vm) {
            Some(series) => series.at(self.position, since),
            None => Ok(Backups::default()),
        }
    }

    /// The finish time of the VM's latest successful backup, or [`InLog`].
    pub fn last_good_backup(&self, vm: VmId) -> Result<Option<Instant>, InLog> {
        Ok(self.backups(vm, Instant::MAX_UTC)?.last_good(Instant::MAX_UTC))
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
            next = self.project(&p).and_then(|p| p.parent_id);
        }
        chain
    }

    /// The strongest role a person holds on a project, directly or through an ancestor.
    /// The number the platform's machines know a project, VM or monitor by (the node API's `id`).
    pub fn platform_number(&self, id: &uuid::Uuid) -> Option<u32> {
        self.catalog.platform_numbers.get(id).copied()
    }

    /// A person's login on the platform's machines, if the person exists in this view.
    pub fn login(&self, person: &PersonId) -> Option<&'a super::Login> {
        self.person(person)?;
        self.catalog.logins.get(person)
    }

    pub fn effective_role(&self, person: PersonId, project: ProjectId) -> Option<Role> {
        let roles = &self.person(&person)?.roles;
        self.ancestry(project).iter().filter_map(|p| roles.get(p).copied()).max()
    }

    /// The customer a project belongs to, for tenancy checks.
    pub fn customer_of_project(&self, project: ProjectId) -> Option<CustomerId> {
        self.project(&project)?.customer_id
    }

    /// The whole view in canonical form.
    pub fn state(&self) -> State {
        fn index<K: Ord + Copy, V>(keys: impl Iterator<Item = K>, of: impl Fn(K) -> Vec<V>) -> BTreeMap<K, Vec<V>> {
            keys.map(|k| (k, of(k))).filter(|(_, v)| !v.is_empty()).collect()
        }
        let customers: BTreeMap<_, _> = self.customers().map(|(k, v)| (*k, v.clone())).collect();
        let people: BTreeMap<_, _> = self.people().map(|(k, v)| (*k, v.clone())).collect();
        let projects: BTreeMap<_, _> = self.projects().map(|(k, v)| (*k, v.clone())).collect();
        let vms: BTreeMap<_, _> = self.vms().map(|(k, v)| (*k, v.clone())).collect();
        State {
            customer_projects: index(customers.keys().copied(), |c| self.projects_of(c).collect()),
            customer_people: index(customers.keys().copied(), |c| self.people_of(c).collect()),
            project_children: index(projects.keys().copied(), |p| self.children(p).collect()),
            project_vms: index(projects.keys().copied(), |p| self.vms_in(p).collect()),
            person_keys: index(people.keys().copied(), |p| self.keys_of(p).collect()),
            keys: self.keys().map(|(k, v)| (*k, v.clone())).collect(),
            monitors: self.catalog.monitors.iter_at(self.position).map(|(k, v)| (*k, v.clone())).collect(),
            maintenance: self.catalog.maintenance.iter_at(self.position).map(|(k, v)| (*k, v.clone())).collect(),
            project_monitors: index(projects.keys().copied(), |p| self.monitors_of(p).collect()),
            project_maintenance: index(projects.keys().copied(), |p| self.maintenance_for(p).collect()),
            price_lists: self.price_lists().into_iter().cloned().collect(),
            releases: self.releases().map(|(k, v)| (*k, v.clone())).collect(),
            invoices: self.catalog.invoices.iter_at(self.position).map(|(k, v)| (*k, v.clone())).collect(),
            customer_invoices: index(customers.keys().copied(), |c| self.invoices_of(c).collect()),
            customers,
            people,
            projects,
            vms,
        }
    }
}
