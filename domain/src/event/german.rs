//! The history's lines in German, for the portal's German readers: the same facts as
//! [`AnyEvent::summary`], in German words, with instants written as Germans read them.

use crate::Instant;
use crate::backup_log::BackupLogEvent;
use crate::billing_run::BillingRunEvent;
use crate::customer::CustomerEvent;
use crate::http_monitor::{Checker, HttpMonitorEvent};
use crate::invoice::{InvoiceEvent, InvoiceKind, SeriesEvent};
use crate::maintenance_window::MaintenanceEvent;
use crate::network::NetworkEvent;
use crate::person::{PersonEvent, Role, StaffRole};
use crate::price_list::PriceListEvent;
use crate::project::{ProjectEvent, SlaClass};
use crate::release::{ChannelEvent, DecidedBy, ReleaseEvent};
use crate::ssh_key::SshKeyEvent;
use crate::vm::VmEvent;

use super::AnyEvent;

/// An instant as a German reader writes it, in UTC, which it is stored in.
fn when(t: &Instant) -> String {
    t.format("%d.%m.%Y %H:%M UTC").to_string()
}

fn role(r: &Role) -> &'static str {
    match r {
        Role::Viewer => "Betrachter",
        Role::Member => "Mitglied",
        Role::Manager => "Verwalter",
    }
}

fn staff_role(r: &StaffRole) -> &'static str {
    match r {
        StaffRole::Ops => "Betrieb",
        StaffRole::Billing => "Abrechnung",
        StaffRole::Admin => "Administration",
        StaffRole::Auditor => "Prüfung",
    }
}

fn sla(c: &SlaClass) -> &'static str {
    match c {
        SlaClass::Basic => "Basic",
        SlaClass::Standard => "Standard",
        SlaClass::Premium => "Premium",
    }
}

fn decided_by(by: &DecidedBy) -> String {
    match by {
        DecidedBy::Policy => "die Regel".to_owned(),
        DecidedBy::Staff(who) => who.clone(),
    }
}

impl AnyEvent {
    /// One line a German reader reads in an entity's history.
    pub fn summary_de(&self) -> String {
        use AnyEvent as A;
        match self {
            A::Customer(e) => match e {
                CustomerEvent::CustomerRegistered { name, country, .. } => {
                    format!("Kunde {name} ({country}) angelegt")
                }
                CustomerEvent::CustomerRenamed { name } => format!("Umbenannt in {name}"),
                CustomerEvent::BillingAddressChanged { .. } => "Rechnungsanschrift geändert".to_owned(),
                CustomerEvent::CustomerClosed { effective_at } => format!("Geschlossen zum {}", when(effective_at)),
            },
            A::Person(e) => match e {
                PersonEvent::PersonRegistered { name, customer_id: None, .. } => {
                    format!("Mitarbeiter {name} angelegt")
                }
                PersonEvent::PersonRegistered { name, .. } => format!("Person {name} angelegt"),
                PersonEvent::RoleGranted { project_id, role: r, .. } => {
                    format!("Rolle {} im Projekt {project_id} erteilt", role(r))
                }
                PersonEvent::RoleRevoked { project_id, .. } => format!("Rolle im Projekt {project_id} entzogen"),
                PersonEvent::StaffRoleGranted { role: r, .. } => {
                    format!("Mitarbeiterrolle {} erteilt", staff_role(r))
                }
                PersonEvent::StaffRoleRevoked { role: r, .. } => {
                    format!("Mitarbeiterrolle {} entzogen", staff_role(r))
                }
                PersonEvent::PersonDeactivated { .. } => "Deaktiviert".to_owned(),
                PersonEvent::TokenIssued { token_id, .. } => format!("API-Token {token_id} ausgestellt"),
                PersonEvent::TokenRevoked { token_id, .. } => format!("API-Token {token_id} widerrufen"),
            },
            A::SshKey(e) => match e {
                SshKeyEvent::SshKeyAdded { algorithm, fingerprint, .. } => {
                    format!("SSH-Schlüssel {algorithm} {fingerprint} hinzugefügt")
                }
                SshKeyEvent::SshKeyRevoked { reason, .. } => format!("SSH-Schlüssel widerrufen: {reason}"),
            },
            A::Project(e) => match e {
                ProjectEvent::ProjectCreated { name, sla_class, resource_group, .. } => format!(
                    "Projekt {name} angelegt (SLA {}){}",
                    sla(sla_class),
                    resource_group.as_ref().map(|rg| format!(", Ressourcengruppe {rg}")).unwrap_or_default()
                ),
                ProjectEvent::ProjectRenamed { name } => format!("Umbenannt in {name}"),
                ProjectEvent::InternalMonitorTargetsAllowed { allowed: true } => {
                    "Monitore dürfen interne Adressen prüfen".to_owned()
                }
                ProjectEvent::InternalMonitorTargetsAllowed { allowed: false } => {
                    "Monitore prüfen nur öffentliche Adressen".to_owned()
                }
                ProjectEvent::SlaClassChanged { sla_class, effective_at } => {
                    format!("SLA {} ab {}", sla(sla_class), when(effective_at))
                }
                ProjectEvent::DeploymentAdded { name, environment } => {
                    format!("Deployment {name} ({environment}) hinzugefügt")
                }
                ProjectEvent::DeploymentRemoved { name } => format!("Deployment {name} entfernt"),
                ProjectEvent::SecretsRekeyed { deployment, .. } => {
                    format!("Geheimnisse von {deployment} für die aktuellen Schlüssel neu verschlüsselt")
                }
                ProjectEvent::ProjectArchived { .. } => "Archiviert".to_owned(),
            },
            A::Vm(e) => match e {
                VmEvent::VmProvisioned { name, resources: r, node, .. } => format!(
                    "VM {name} bereitgestellt: {} vCPU, {} GB RAM, {} GB Platte{}",
                    r.cpu,
                    r.ram_gb,
                    r.disk_gb,
                    node.as_ref().map(|n| format!(", Hostname {}", n.hostname)).unwrap_or_default()
                ),
                VmEvent::VmRolesSet { roles } if roles.is_empty() => "Rollen entfernt".to_owned(),
                VmEvent::VmRolesSet { roles } => format!("Rollen gesetzt: {}", roles.join(", ")),
                VmEvent::VmDirectoryRingSet { ring } => format!("Ring der Knoten-API auf {ring} gesetzt"),
                VmEvent::NodePasswordRotated { generation } => {
                    format!("Passwort der Knoten-API erneuert (Generation {generation})")
                }
                VmEvent::NodeCredentialsShown {} => "Zugangsdaten der Knoten-API angezeigt".to_owned(),
                VmEvent::NodeServiceStatusMarked { in_service: true, .. } => "In Betrieb gemeldet".to_owned(),
                VmEvent::NodeServiceStatusMarked { in_service: false, until, .. } => {
                    format!("Außer Betrieb gemeldet{}", until.map(|u| format!(" bis {}", when(&u))).unwrap_or_default())
                }
                VmEvent::VmAddressAssigned { assignment: a } => {
                    format!("Adresse {} aus {} im VLAN {} ({})", a.address, a.network, a.vlan, a.mac)
                }
                VmEvent::VmAddressesReleased {} => "Adressen freigegeben".to_owned(),
                VmEvent::VmResized { resources: r, effective_at } => format!(
                    "Geändert auf {} vCPU, {} GB RAM, {} GB Platte ab {}",
                    r.cpu,
                    r.ram_gb,
                    r.disk_gb,
                    when(effective_at)
                ),
                VmEvent::VmMovedToProject { project_id, .. } => format!("In Projekt {project_id} verschoben"),
                VmEvent::VmDecommissioned { effective_at } => format!("Stillgelegt zum {}", when(effective_at)),
            },
            A::BackupLog(e) => match e {
                BackupLogEvent::BackupSucceeded { backup_id, size_bytes, .. } => {
                    format!("Sicherung {backup_id} erfolgreich ({size_bytes} Byte)")
                }
                BackupLogEvent::BackupFailed { backup_id, error, .. } => {
                    format!("Sicherung {backup_id} fehlgeschlagen: {error}")
                }
                BackupLogEvent::BackupExpired { backup_id, .. } => format!("Sicherung {backup_id} abgelaufen"),
            },
            A::HttpMonitor(e) => match e {
                HttpMonitorEvent::HttpMonitorCreated { config, .. } => {
                    format!("HTTP-Monitor für {} angelegt (alle {} s)", config.url, config.interval_seconds)
                }
                HttpMonitorEvent::HttpMonitorReconfigured { config, .. } => format!(
                    "Geändert: {} alle {} s, erwartet {}",
                    config.url, config.interval_seconds, config.expected_status
                ),
                HttpMonitorEvent::HttpMonitorPaused { .. } => "Pausiert".to_owned(),
                HttpMonitorEvent::HttpMonitorResumed { .. } => "Fortgesetzt".to_owned(),
                HttpMonitorEvent::HttpMonitorDeleted { .. } => "Gelöscht".to_owned(),
                HttpMonitorEvent::MonitorCheckerChanged { checked_by } => match checked_by {
                    Checker::Directory => "Ab jetzt vom Directory geprüft".to_owned(),
                    Checker::External => "Ab jetzt extern geprüft".to_owned(),
                },
                HttpMonitorEvent::MonitorWentDown { at, observed_status, error, .. } => {
                    let why = match (observed_status, error) {
                        (_, Some(e)) => e.clone(),
                        (Some(s), None) => format!("Status {s}"),
                        (None, None) => "keine Antwort".to_owned(),
                    };
                    format!("Ausgefallen am {} ({why})", when(at))
                }
                HttpMonitorEvent::MonitorRecovered { at, .. } => format!("Wieder erreichbar am {}", when(at)),
            },
            A::Maintenance(e) => match e {
                MaintenanceEvent::MaintenanceScheduled { start, end, reason, project_id, .. } => format!(
                    "Wartung {} von {} bis {}: {reason}",
                    if project_id.is_some() { "des Projekts" } else { "der Plattform" },
                    when(start),
                    when(end)
                ),
                MaintenanceEvent::MaintenanceCancelled { reason, .. } => format!("Wartung abgesagt: {reason}"),
                MaintenanceEvent::MaintenancePostponed { start, end } => {
                    format!("Wartung verschoben auf {} bis {}", when(start), when(end))
                }
                MaintenanceEvent::MaintenanceEnded { at } => format!("Wartung beendet am {}", when(at)),
            },
            A::PriceList(PriceListEvent::PriceListPublished { valid_from, prices: p }) => format!(
                "Preisliste gültig ab {}: vCPU {}, RAM GB {}, Platte GB {}, Sicherung GB {}, Monitor {}, SLA {}/{}/{} EUR im Monat",
                when(valid_from),
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
                    format!("Release von {channel} für {week} geplant, Zeitfenster ab {}", when(window_start))
                }
                ReleaseEvent::ReleaseVetoed { by, reason, .. } => format!("Veto von {by}: {reason}"),
                ReleaseEvent::VetoWithdrawn { by, .. } => format!("Veto von {by} zurückgezogen"),
                ReleaseEvent::ReleaseApproved { by, .. } => format!("Freigegeben durch {}", decided_by(by)),
                ReleaseEvent::ReleaseHeld { by, failed_conditions, reason, .. } => format!(
                    "Zurückgehalten durch {}: {}",
                    decided_by(by),
                    reason.clone().unwrap_or_else(|| failed_conditions.join("; "))
                ),
                ReleaseEvent::ReleaseCancelled { by, reason, .. } => format!("Abgesagt von {by}: {reason}"),
                ReleaseEvent::ReleaseRolledOut { by, at } => {
                    format!("Ausgerollt, beendet am {} (erfasst von {by})", when(at))
                }
            },
            A::Invoice(e) => match e {
                InvoiceEvent::InvoiceDrafted { kind, content, refers_to, .. } => format!(
                    "{} für {} entworfen: netto {} EUR{}",
                    if *kind == InvoiceKind::Invoice { "Rechnung" } else { "Stornorechnung" },
                    content.period,
                    content.net,
                    refers_to.as_ref().map(|r| format!(", storniert {}", r.number)).unwrap_or_default()
                ),
                InvoiceEvent::InvoiceIssued { number, due_date, .. } => {
                    format!("Gestellt als {number}, fällig am {}", due_date.format("%d.%m.%Y"))
                }
                InvoiceEvent::InvoiceCancelled { by, reason } => format!("Storniert durch {}: {reason}", by.number),
                InvoiceEvent::InvoiceExported { target, batch, .. } => {
                    format!("Exportiert nach {target} im Stapel {}", &batch[..batch.len().min(12)])
                }
            },
            A::InvoiceSeries(SeriesEvent::NumberAssigned { number, invoice_id }) => {
                format!("Nummer {number} an Rechnung {invoice_id} vergeben")
            }
            A::BillingRun(BillingRunEvent::BillingRunStarted { period, .. }) => {
                format!("Abrechnungslauf für {period} begonnen")
            }
            A::BillingRun(BillingRunEvent::BillingRunCompleted { invoices, .. }) => {
                format!("Abrechnungslauf beendet: {} gültige Rechnungen", invoices.len())
            }
            A::ReleaseChannel(ChannelEvent::ChannelConfigured { settings: c }) => format!(
                "Kanal {} entscheidet {} h vor dem Zeitfenster, nach {} h Erprobung",
                c.channel, c.lead_hours, c.min_soak_hours
            ),
            A::Network(NetworkEvent::NetworkDefined { network: n }) => {
                format!("Netz {} im VLAN {} in {} definiert, Gateway {}", n.cidr, n.vlan, n.location, n.gateway)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::event::Language;
    use crate::vm::Resources;

    #[test]
    fn a_history_line_reads_in_german_with_german_dates_and_words() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 3, 15, 23, 0, 0).unwrap();
        let resized = AnyEvent::Vm(VmEvent::VmResized {
            resources: Resources { cpu: 8, ram_gb: 16, disk_gb: 40 },
            effective_at: at,
        });
        assert_eq!(
            resized.summary_in(Language::German),
            "Geändert auf 8 vCPU, 16 GB RAM, 40 GB Platte ab 15.03.2026 23:00 UTC"
        );
        assert_eq!(resized.summary_in(Language::English), resized.summary());
        let granted = AnyEvent::Person(PersonEvent::StaffRoleGranted { role: StaffRole::Billing, at });
        assert_eq!(granted.summary_in(Language::German), "Mitarbeiterrolle Abrechnung erteilt");
        let down = AnyEvent::HttpMonitor(HttpMonitorEvent::MonitorWentDown {
            at,
            observed_status: None,
            redirect_chain: vec![],
            error: None,
        });
        assert_eq!(down.summary_in(Language::German), "Ausgefallen am 15.03.2026 23:00 UTC (keine Antwort)");
    }
}
