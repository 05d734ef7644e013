//! Any event of any aggregate, as projections and history see it.

use serde::Serialize;

use crate::backup_log::{BackupLog, BackupLogEvent};
use crate::billing_run::{BillingRun, BillingRunEvent};
use crate::customer::{Customer, CustomerEvent};
use crate::http_monitor::{HttpMonitor, HttpMonitorEvent};
use crate::invoice::{Invoice, InvoiceEvent, SERIES_TYPE, SeriesEvent};
use crate::maintenance_window::{MaintenanceEvent, MaintenanceWindow};
use crate::network::{NetworkEvent, Networks};
use crate::person::{Person, PersonEvent};
use crate::price_list::{PriceListEvent, PriceLists};
use crate::project::{Project, ProjectEvent};
use crate::release::{ChannelEvent, Release, ReleaseChannel, ReleaseEvent};
use crate::ssh_key::{SshKey, SshKeyEvent};
use crate::vm::{Vm, VmEvent};
use cqrs_es::Aggregate;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyEvent {
    Customer(CustomerEvent),
    Person(PersonEvent),
    SshKey(SshKeyEvent),
    Project(ProjectEvent),
    Vm(VmEvent),
    BackupLog(BackupLogEvent),
    HttpMonitor(HttpMonitorEvent),
    Maintenance(MaintenanceEvent),
    PriceList(PriceListEvent),
    Release(ReleaseEvent),
    Invoice(InvoiceEvent),
    InvoiceSeries(SeriesEvent),
    BillingRun(BillingRunEvent),
    ReleaseChannel(ChannelEvent),
    Network(NetworkEvent),
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown aggregate type {0:?}")]
    UnknownAggregate(String),
    #[error("undecodable payload: {0}")]
    Payload(#[from] serde_json::Error),
}

mod german;

/// The languages an entity's history is told in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Language {
    #[default]
    English,
    German,
}

impl AnyEvent {
    /// Decodes a stored payload (serde JSON of the aggregate's event enum).
    pub fn decode(aggregate_type: &str, payload: &str) -> Result<AnyEvent, DecodeError> {
        Ok(match aggregate_type {
            Customer::TYPE => AnyEvent::Customer(serde_json::from_str(payload)?),
            Person::TYPE => AnyEvent::Person(serde_json::from_str(payload)?),
            SshKey::TYPE => AnyEvent::SshKey(serde_json::from_str(payload)?),
            Project::TYPE => AnyEvent::Project(serde_json::from_str(payload)?),
            Vm::TYPE => AnyEvent::Vm(serde_json::from_str(payload)?),
            BackupLog::TYPE => AnyEvent::BackupLog(serde_json::from_str(payload)?),
            HttpMonitor::TYPE => AnyEvent::HttpMonitor(serde_json::from_str(payload)?),
            MaintenanceWindow::TYPE => AnyEvent::Maintenance(serde_json::from_str(payload)?),
            PriceLists::TYPE => AnyEvent::PriceList(serde_json::from_str(payload)?),
            Release::TYPE => AnyEvent::Release(serde_json::from_str(payload)?),
            Invoice::TYPE => AnyEvent::Invoice(serde_json::from_str(payload)?),
            SERIES_TYPE => AnyEvent::InvoiceSeries(serde_json::from_str(payload)?),
            BillingRun::TYPE => AnyEvent::BillingRun(serde_json::from_str(payload)?),
            ReleaseChannel::TYPE => AnyEvent::ReleaseChannel(serde_json::from_str(payload)?),
            Networks::TYPE => AnyEvent::Network(serde_json::from_str(payload)?),
            other => return Err(DecodeError::UnknownAggregate(other.to_owned())),
        })
    }

    /// One line a person reads in an entity's history, in their language.
    pub fn summary_in(&self, language: Language) -> String {
        match language {
            Language::English => self.summary(),
            Language::German => self.summary_de(),
        }
    }

    /// One line a person can read in an entity's history.
    pub fn summary(&self) -> String {
        use AnyEvent as A;
        match self {
            A::Customer(e) => match e {
                CustomerEvent::CustomerRegistered { name, country, .. } => {
                    format!("Customer {name} ({country}) registered")
                }
                CustomerEvent::CustomerRenamed { name } => format!("Renamed to {name}"),
                CustomerEvent::BillingAddressChanged { .. } => "Billing address changed".to_owned(),
                CustomerEvent::CustomerClosed { effective_at } => {
                    format!("Closed effective {}", effective_at.to_rfc3339())
                }
            },
            A::Person(e) => match e {
                PersonEvent::PersonRegistered { name, customer_id: None, .. } => {
                    format!("Staff member {name} registered")
                }
                PersonEvent::PersonRegistered { name, .. } => format!("Person {name} registered"),
                PersonEvent::RoleGranted { project_id, role, .. } => {
                    format!("Granted {role:?} on project {project_id}")
                }
                PersonEvent::RoleRevoked { project_id, .. } => {
                    format!("Role on project {project_id} revoked")
                }
                PersonEvent::StaffRoleGranted { role, .. } => {
                    format!("Granted staff role {role:?}")
                }
                PersonEvent::StaffRoleRevoked { role, .. } => {
                    format!("Staff role {role:?} revoked")
                }
                PersonEvent::PersonDeactivated { .. } => "Deactivated".to_owned(),
                PersonEvent::TokenIssued { token_id, .. } => format!("API token {token_id} issued"),
                PersonEvent::TokenRevoked { token_id, .. } => {
                    format!("API token {token_id} revoked")
                }
            },
            A::SshKey(e) => match e {
                SshKeyEvent::SshKeyAdded { algorithm, fingerprint, .. } => {
                    format!("SSH key {algorithm} {fingerprint} added")
                }
                SshKeyEvent::SshKeyRevoked { reason, .. } => format!("SSH key revoked: {reason}"),
            },
            A::Project(e) => match e {
                ProjectEvent::ProjectCreated { name, sla_class, resource_group, .. } => format!(
                    "Project {name} created ({sla_class:?} SLA){}",
                    resource_group.as_ref().map(|rg| format!(", resource group {rg}")).unwrap_or_default()
                ),
                ProjectEvent::ProjectRenamed { name } => format!("Renamed to {name}"),
                ProjectEvent::InternalMonitorTargetsAllowed { allowed: true } => {
                    "Monitors may reach internal addresses".to_owned()
                }
                ProjectEvent::InternalMonitorTargetsAllowed { allowed: false } => {
                    "Monitors reach public addresses only".to_owned()
                }
                ProjectEvent::SlaClassChanged { sla_class, effective_at } => {
                    format!("SLA class {sla_class:?} effective {}", effective_at.to_rfc3339())
                }
                ProjectEvent::DeploymentAdded { name, environment } => {
                    format!("Deployment {name} ({environment}) added")
                }
                ProjectEvent::DeploymentRemoved { name } => format!("Deployment {name} removed"),
                ProjectEvent::SecretsRekeyed { deployment, .. } => {
                    format!("Secrets of {deployment} re-encrypted to its current keys")
                }
                ProjectEvent::ProjectArchived { .. } => "Archived".to_owned(),
            },
            A::Vm(e) => match e {
                VmEvent::VmProvisioned { name, resources: r, node, .. } => format!(
                    "VM {name} provisioned: {} vCPU, {} GB RAM, {} GB disk{}",
                    r.cpu,
                    r.ram_gb,
                    r.disk_gb,
                    node.as_ref().map(|n| format!(", host name {}", n.hostname)).unwrap_or_default()
                ),
                VmEvent::VmRolesSet { roles } if roles.is_empty() => "Roles cleared".to_owned(),
                VmEvent::VmRolesSet { roles } => format!("Roles set to {}", roles.join(", ")),
                VmEvent::VmDirectoryRingSet { ring } => format!("Node API ring set to {ring}"),
                VmEvent::NodePasswordRotated { generation } => {
                    format!("Node API password rotated (generation {generation})")
                }
                VmEvent::NodeCredentialsShown {} => "Node API credentials shown".to_owned(),
                VmEvent::NodeServiceStatusMarked { in_service: true, .. } => "Marked in service".to_owned(),
                VmEvent::NodeServiceStatusMarked { in_service: false, until, .. } => format!(
                    "Marked out of service{}",
                    until.map(|u| format!(" until {}", u.to_rfc3339())).unwrap_or_default()
                ),
                VmEvent::VmAddressAssigned { assignment: a } => {
                    format!("Address {} of {} on VLAN {} ({})", a.address, a.network, a.vlan, a.mac)
                }
                VmEvent::VmAddressesReleased {} => "Addresses released".to_owned(),
                VmEvent::VmResized { resources: r, effective_at } => format!(
                    "Resized to {} vCPU, {} GB RAM, {} GB disk effective {}",
                    r.cpu,
                    r.ram_gb,
                    r.disk_gb,
                    effective_at.to_rfc3339()
                ),
                VmEvent::VmMovedToProject { project_id, .. } => {
                    format!("Moved to project {project_id}")
                }
                VmEvent::VmDecommissioned { effective_at } => {
                    format!("Decommissioned effective {}", effective_at.to_rfc3339())
                }
            },
            A::BackupLog(e) => match e {
                BackupLogEvent::BackupSucceeded { backup_id, size_bytes, .. } => {
                    format!("Backup {backup_id} succeeded ({size_bytes} bytes)")
                }
                BackupLogEvent::BackupFailed { backup_id, error, .. } => format!("Backup {backup_id} failed: {error}"),
                BackupLogEvent::BackupExpired { backup_id, .. } => {
                    format!("Backup {backup_id} expired")
                }
            },
            A::HttpMonitor(e) => match e {
                HttpMonitorEvent::HttpMonitorCreated { config, .. } => {
                    format!("HTTP monitor of {} created (every {} s)", config.url, config.interval_seconds)
                }
                HttpMonitorEvent::HttpMonitorReconfigured { config, .. } => {
                    format!(
                        "Reconfigured: {} every {} s, expecting {}",
                        config.url, config.interval_seconds, config.expected_status
                    )
                }
                HttpMonitorEvent::HttpMonitorPaused { .. } => "Paused".to_owned(),
                HttpMonitorEvent::HttpMonitorResumed { .. } => "Resumed".to_owned(),
                HttpMonitorEvent::HttpMonitorDeleted { .. } => "Deleted".to_owned(),
                HttpMonitorEvent::MonitorCheckerChanged { checked_by } => {
                    format!("Checked by {checked_by:?} from now on")
                }
                HttpMonitorEvent::MonitorWentDown { at, observed_status, error, .. } => {
                    let why = match (observed_status, error) {
                        (_, Some(e)) => e.clone(),
                        (Some(s), None) => format!("status {s}"),
                        (None, None) => "no answer".to_owned(),
                    };
                    format!("Went down at {} ({why})", at.to_rfc3339())
                }
                HttpMonitorEvent::MonitorRecovered { at, .. } => format!("Up at {}", at.to_rfc3339()),
            },
            A::Maintenance(e) => match e {
                MaintenanceEvent::MaintenanceScheduled { start, end, reason, project_id, .. } => format!(
                    "Maintenance {} {} to {}: {reason}",
                    if project_id.is_some() { "of the project" } else { "of the platform" },
                    start.to_rfc3339(),
                    end.to_rfc3339()
                ),
                MaintenanceEvent::MaintenanceCancelled { reason, .. } => format!("Maintenance cancelled: {reason}"),
                MaintenanceEvent::MaintenancePostponed { start, end } => {
                    format!("Maintenance moved to {} to {}", start.to_rfc3339(), end.to_rfc3339())
                }
                MaintenanceEvent::MaintenanceEnded { at } => format!("Maintenance ended at {}", at.to_rfc3339()),
            },
            A::PriceList(PriceListEvent::PriceListPublished { valid_from, prices: p }) => format!(
                "Price list valid from {}: vCPU {}, RAM GB {}, disk GB {}, backup GB {}, monitor {}, SLA {}/{}/{} EUR a month",
                valid_from.to_rfc3339(),
                p.vcpu,
                p.ram_gb,
                p.disk_gb,
                p.backup_gb,
                p.monitor,
                p.sla_basic,
                p.sla_standard,
                p.sla_premium
            ),
            A::Release(e) => match e {
                ReleaseEvent::ReleaseScheduled { channel, week, window_start, .. } => {
                    format!("Release of {channel} scheduled for {week}, window {}", window_start.to_rfc3339())
                }
                ReleaseEvent::ReleaseVetoed { by, reason, .. } => format!("Vetoed by {by}: {reason}"),
                ReleaseEvent::VetoWithdrawn { by, .. } => format!("Veto of {by} withdrawn"),
                ReleaseEvent::ReleaseApproved { by, .. } => format!("Approved by {by:?}"),
                ReleaseEvent::ReleaseHeld { by, failed_conditions, reason, .. } => {
                    format!("Held by {by:?}: {}", reason.clone().unwrap_or_else(|| failed_conditions.join("; ")))
                }
                ReleaseEvent::ReleaseCancelled { by, reason, .. } => format!("Cancelled by {by}: {reason}"),
                ReleaseEvent::ReleaseRolledOut { by, at } => {
                    format!("Rolled out, finished {} (recorded by {by})", at.to_rfc3339())
                }
            },
            A::Invoice(e) => match e {
                InvoiceEvent::InvoiceDrafted { kind, content, refers_to, .. } => format!(
                    "{} for {} drafted: net {} EUR{}",
                    if *kind == crate::invoice::InvoiceKind::Invoice { "Invoice" } else { "Cancellation invoice" },
                    content.period,
                    content.net,
                    refers_to.as_ref().map(|r| format!(", cancelling {}", r.number)).unwrap_or_default()
                ),
                InvoiceEvent::InvoiceIssued { number, due_date, .. } => {
                    format!("Issued as {number}, due {}", due_date.date_naive())
                }
                InvoiceEvent::InvoiceCancelled { by, reason } => format!("Cancelled by {}: {reason}", by.number),
                InvoiceEvent::InvoiceExported { target, batch, .. } => {
                    format!("Exported to {target} in batch {}", &batch[..batch.len().min(12)])
                }
            },
            A::InvoiceSeries(SeriesEvent::NumberAssigned { number, invoice_id }) => {
                format!("Number {number} assigned to invoice {invoice_id}")
            }
            A::BillingRun(BillingRunEvent::BillingRunStarted { period, .. }) => {
                format!("Billing run of {period} started")
            }
            A::BillingRun(BillingRunEvent::BillingRunCompleted { invoices, .. }) => {
                format!("Billing run completed: {} valid invoices", invoices.len())
            }
            A::ReleaseChannel(ChannelEvent::ChannelConfigured { settings: c }) => format!(
                "Channel {} decides {} h before the window, after {} h of soak",
                c.channel, c.lead_hours, c.min_soak_hours
            ),
            A::Network(NetworkEvent::NetworkDefined { network: n }) => {
                format!("Network {} of VLAN {} in {} defined, gateway {}", n.cidr, n.vlan, n.location, n.gateway)
            }
        }
    }
}
