//! The billing rules of `contract/rules.md`, as a pure function of a catalog view: what a
//! customer owes for a period, line by line, with the positions of the events behind each
//! line. The billing run, the preview and the drift check all call [`compute`].
//!
//! Choices where the rules are silent: a component whose unit price is zero gets no line;
//! a segment without any applicable price list is not billed; backup storage follows the
//! price list in force (a price change splits its line as it splits the others), and its
//! units are the GB held on average over the whole period within that segment; an EU
//! customer without a VAT id pays German VAT, as the place of supply is ours.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use domain::backup_log::BackupStatus;
use domain::invoice::{Buyer, InvoiceContent, InvoiceLine, ProjectGroup, TaxCase, cents};
use domain::price_list::Prices;
use domain::project::SlaClass;
use domain::shared::validate::is_eu;
use domain::vm::{Resources, Vm};
use domain::{CustomerId, Instant, Period, ProjectId, VmId};
use rust_decimal::Decimal;

use crate::catalog::{At, Backups, InLog, PriceListRecord};
use crate::from_log::NeedsLog;

pub const VAT_DE: Decimal = Decimal::from_parts(19, 0, 0, false, 2);
pub const REVERSE_CHARGE: &str = "Reverse charge";

/// A half-open interval of instants.
type Span = (Instant, Instant);

fn overlap((a, b): Span, (c, d): Span) -> Option<Span> {
    let (from, to) = (a.max(c), b.min(d));
    (from < to).then_some((from, to))
}

/// Cuts `span` at every instant of `cuts` inside it.
fn segments(span: Span, cuts: impl IntoIterator<Item = Instant>) -> Vec<Span> {
    let inside: BTreeSet<Instant> = cuts.into_iter().filter(|t| *t > span.0 && *t < span.1).collect();
    let mut points = vec![span.0];
    points.extend(inside);
    points.push(span.1);
    points.windows(2).map(|w| (w[0], w[1])).collect()
}

fn seconds((from, to): Span) -> Decimal {
    Decimal::from((to - from).num_seconds())
}

struct Context<'a> {
    at: At<'a>,
    period: Period,
    span: Span,
    lists: Vec<&'a PriceListRecord>,
    from_log: &'a FromLog,
}

/// Backups read from the VMs' own logs, at the view's position and from the period's
/// start, for the VMs whose backups the catalog no longer keeps ([`NeedsLog`]).
pub type FromLog = BTreeMap<VmId, Backups>;

impl<'a> Context<'a> {
    fn price_at(&self, t: Instant) -> Option<&'a PriceListRecord> {
        self.lists.iter().rev().find(|r| r.valid_from <= t).copied()
    }

    fn price_cuts(&self) -> Vec<Instant> {
        self.lists.iter().map(|r| r.valid_from).collect()
    }

    /// `units × price × seconds(span) / seconds(period)`, rounded to cents.
    fn prorated(&self, units: Decimal, price: Decimal, span: Span) -> Decimal {
        cents(units * price * seconds(span) / seconds(self.span))
    }

    fn sla_at(&self, project: ProjectId, t: Instant) -> (SlaClass, Vec<i64>) {
        let p = self.at.project(&project);
        let class = p
            .and_then(|p| p.sla_timeline.iter().rev().find(|(from, _)| *from <= t).or(p.sla_timeline.first()))
            .map_or(SlaClass::Basic, |(_, c)| *c);
        (class, self.at.project_events(&project))
    }
}

fn sla_price(prices: &Prices, class: SlaClass) -> Decimal {
    match class {
        SlaClass::Basic => prices.sla_basic,
        SlaClass::Standard => prices.sla_standard,
        SlaClass::Premium => prices.sla_premium,
    }
}

fn sla_name(class: SlaClass) -> &'static str {
    match class {
        SlaClass::Basic => "SLA basic",
        SlaClass::Standard => "SLA standard",
        SlaClass::Premium => "SLA premium",
    }
}

fn provenance(mut positions: Vec<i64>) -> Vec<i64> {
    positions.sort_unstable();
    positions.dedup();
    positions
}

/// What is constant over one stretch of a VM's life in the period.
#[derive(Clone, PartialEq)]
struct Stretch {
    project: ProjectId,
    resources: Resources,
    sla: SlaClass,
    list: i64,
}

fn vm_lines(cx: &Context<'_>, id: VmId, vm: &Vm, out: &mut BTreeMap<ProjectId, Vec<InvoiceLine>>) {
    let Some(born) = vm.provisioned_at() else { return };
    let Some(life) = overlap((born, vm.decommissioned_at.unwrap_or(cx.span.1)), cx.span) else { return };
    let timeline = vm.timeline();
    let projects: BTreeSet<ProjectId> = timeline.iter().map(|c| c.project_id).collect();
    let mut cuts: Vec<Instant> = timeline.iter().map(|c| c.from).collect();
    cuts.extend(cx.price_cuts());
    for p in &projects {
        cuts.extend(cx.at.project(p).into_iter().flat_map(|p| p.sla_timeline.iter().map(|(t, _)| *t)));
    }
    // Maximal stretches: adjacent segments with the same configuration, class and prices merge.
    let mut stretches: Vec<(Span, Stretch, &PriceListRecord)> = vec![];
    for seg in segments(life, cuts) {
        let (Some(config), Some(list)) = (vm.configuration_at(seg.0), cx.price_at(seg.0)) else { continue };
        let (sla, _) = cx.sla_at(config.project_id, seg.0);
        let key = Stretch { project: config.project_id, resources: config.resources, sla, list: list.recorded };
        match stretches.last_mut() {
            Some((span, last, _)) if *last == key && span.1 == seg.0 => span.1 = seg.1,
            _ => stretches.push((seg, key, list)),
        }
    }
    let vm_events = cx.at.vm_events(&id);
    for (span, s, list) in stretches {
        let p = &list.prices;
        let mut base = vm_events.clone();
        base.push(list.recorded);
        let components = [
            ("vCPU", Decimal::from(s.resources.cpu), p.vcpu, base.clone()),
            ("RAM GB", Decimal::from(s.resources.ram_gb), p.ram_gb, base.clone()),
            ("Disk GB", Decimal::from(s.resources.disk_gb), p.disk_gb, base.clone()),
            (sla_name(s.sla), Decimal::ONE, sla_price(p, s.sla), {
                let mut with_project = base.clone();
                with_project.extend(cx.sla_at(s.project, span.0).1);
                with_project
            }),
        ];
        for (component, units, unit_price, positions) in components {
            if unit_price.is_zero() {
                continue;
            }
            out.entry(s.project).or_default().push(InvoiceLine {
                subject: vm.name.clone(),
                component: component.to_owned(),
                from: span.0,
                to: span.1,
                units,
                unit_price,
                amount: cx.prorated(units, unit_price, span),
                provenance: provenance(positions),
            });
        }
    }
}

const GB: i64 = 1_000_000_000;

fn backup_lines(
    cx: &Context<'_>,
    id: VmId,
    vm: &Vm,
    out: &mut BTreeMap<ProjectId, Vec<InvoiceLine>>,
) -> Result<(), InLog> {
    let timeline = vm.timeline();
    let Some(project) = timeline.iter().rev().find(|c| c.from < cx.span.1).or(timeline.first()).map(|c| c.project_id)
    else {
        return Ok(());
    };
    let backups = match cx.at.backups(id, cx.span.0) {
        Ok(kept) => Cow::Owned(kept),
        Err(InLog) => Cow::Borrowed(cx.from_log.get(&id).ok_or(InLog)?),
    };
    // As known at the view's position: an expiry recorded later is not counted.
    let records: Vec<_> = backups
        .records
        .iter()
        .filter(|r| r.status == BackupStatus::Succeeded)
        .filter_map(|r| overlap((r.finished_at, r.expired_at.unwrap_or(cx.span.1)), cx.span).map(|held| (r, held)))
        .collect();
    if records.is_empty() {
        return Ok(());
    }
    for seg in segments(cx.span, cx.price_cuts()) {
        let Some(list) = cx.price_at(seg.0) else { continue };
        if list.prices.backup_gb.is_zero() {
            continue;
        }
        let mut byte_seconds = Decimal::ZERO;
        let mut positions = vec![list.recorded];
        for (r, held) in &records {
            if let Some(part) = overlap(*held, seg) {
                byte_seconds += Decimal::from(r.size_bytes.unwrap_or(0)) * seconds(part);
                positions.push(r.recorded);
                positions.extend(r.expired_recorded);
            }
        }
        if byte_seconds.is_zero() {
            continue;
        }
        let gb = byte_seconds / seconds(cx.span) / Decimal::from(GB);
        out.entry(project).or_default().push(InvoiceLine {
            subject: vm.name.clone(),
            component: "Backup GB".to_owned(),
            from: seg.0,
            to: seg.1,
            units: gb.round_dp(6),
            unit_price: list.prices.backup_gb,
            amount: cents(gb * list.prices.backup_gb),
            provenance: provenance(positions),
        });
    }
    Ok(())
}

fn monitor_lines(cx: &Context<'_>, project: ProjectId, out: &mut BTreeMap<ProjectId, Vec<InvoiceLine>>) {
    for mid in cx.at.monitors_of(project) {
        let Some(m) = cx.at.monitor(&mid) else { continue };
        let url = m.config.as_ref().map(|c| c.url.clone()).unwrap_or_default();
        // The stretches it was checked: from each "on" to the next "off".
        let mut active: Vec<Span> = vec![];
        for (i, (t, on)) in m.activity.iter().enumerate() {
            if *on {
                let end = m.activity[i + 1..].iter().find(|(_, on)| !on).map_or(cx.span.1.max(*t), |(u, _)| *u);
                active.extend(overlap((*t, end), cx.span));
            }
        }
        let events = cx.at.monitor_events(&mid);
        for span in active {
            for seg in segments(span, cx.price_cuts()) {
                let Some(list) = cx.price_at(seg.0) else { continue };
                if list.prices.monitor.is_zero() {
                    continue;
                }
                let mut positions = events.clone();
                positions.push(list.recorded);
                out.entry(project).or_default().push(InvoiceLine {
                    subject: url.clone(),
                    component: "Monitor".to_owned(),
                    from: seg.0,
                    to: seg.1,
                    units: Decimal::ONE,
                    unit_price: list.prices.monitor,
                    amount: cx.prorated(Decimal::ONE, list.prices.monitor, seg),
                    provenance: provenance(positions),
                });
            }
        }
    }
}

/// The customer's projects in tree order: depth-first from the roots, siblings by name.
fn tree_order(at: At<'_>, customer: CustomerId) -> Vec<ProjectId> {
    let projects: BTreeSet<ProjectId> = at.projects_of(customer).collect();
    let by_name = |ids: &mut Vec<ProjectId>| {
        ids.sort_by(|a, b| {
            let name = |p: &ProjectId| at.project(p).map(|p| p.name.clone()).unwrap_or_default();
            name(a).cmp(&name(b)).then(a.cmp(b))
        })
    };
    let mut roots: Vec<ProjectId> = projects
        .iter()
        .copied()
        .filter(|p| at.project(p).and_then(|p| p.parent_id).is_none_or(|parent| !projects.contains(&parent)))
        .collect();
    by_name(&mut roots);
    let mut order = vec![];
    let mut stack: Vec<ProjectId> = roots.into_iter().rev().collect();
    while let Some(p) = stack.pop() {
        if order.contains(&p) {
            continue;
        }
        order.push(p);
        let mut children: Vec<ProjectId> = at.children(p).filter(|c| projects.contains(c)).collect();
        by_name(&mut children);
        stack.extend(children.into_iter().rev());
    }
    order
}

/// The VAT rate and tax case for a customer.
pub fn vat(country: &str, vat_id: Option<&str>) -> (Decimal, TaxCase) {
    match (country, vat_id) {
        ("DE", _) => (VAT_DE, TaxCase::Standard),
        (c, Some(_)) if is_eu(c) => (Decimal::ZERO, TaxCase::ReverseCharge),
        (c, None) if is_eu(c) => (VAT_DE, TaxCase::Standard),
        _ => (Decimal::ZERO, TaxCase::NotTaxableHere),
    }
}

/// Every VM that was ever in one of the customer's projects.
fn vms_of(at: At<'_>, customer: CustomerId) -> BTreeSet<VmId> {
    at.projects_of(customer).flat_map(|p| at.vms_ever_in(p)).collect()
}

/// What the customer owes for the period, as the view shows the log; none for an unknown
/// customer. [`NeedsLog`] names the VMs whose backups must be read from their logs into
/// `from_log` (at the view's position, from the period's start) before it can answer.
pub fn compute(
    at: At<'_>,
    customer: CustomerId,
    period: Period,
    from_log: &FromLog,
) -> Result<Option<InvoiceContent>, NeedsLog<VmId>> {
    let Some(c) = at.customer(&customer) else { return Ok(None) };
    let cx = Context { at, period, span: (period.start(), period.end()), lists: at.price_lists(), from_log };
    let mut lines: BTreeMap<ProjectId, Vec<InvoiceLine>> = BTreeMap::new();
    let mut needs_log = vec![];
    for id in vms_of(at, customer) {
        if let Some(vm) = at.vm(&id) {
            vm_lines(&cx, id, vm, &mut lines);
            if backup_lines(&cx, id, vm, &mut lines).is_err() {
                needs_log.push(id);
            }
        }
    }
    if !needs_log.is_empty() {
        return Err(NeedsLog(needs_log));
    }
    for p in at.projects_of(customer) {
        monitor_lines(&cx, p, &mut lines);
    }
    let mut groups = vec![];
    for p in tree_order(at, customer) {
        let Some(mut own) = lines.remove(&p) else { continue };
        own.sort_by(|a, b| a.subject.cmp(&b.subject).then(a.component.cmp(&b.component)).then(a.from.cmp(&b.from)));
        let path: Vec<String> =
            at.ancestry(p).iter().rev().filter_map(|a| at.project(a).map(|x| x.name.clone())).collect();
        groups.push(ProjectGroup {
            project_id: p,
            project_name: at.project(&p).map(|x| x.name.clone()).unwrap_or_default(),
            path,
            subtotal: own.iter().map(|l| l.amount).sum(),
            lines: own,
        });
    }
    let net: Decimal = groups.iter().map(|g| g.subtotal).sum();
    let (vat_rate, tax_case) = vat(&c.country, c.vat_id.as_deref());
    let note = (tax_case == TaxCase::ReverseCharge).then(|| REVERSE_CHARGE.to_owned());
    let vat = cents(net * vat_rate);
    Ok(Some(InvoiceContent {
        computed_at: at.position(),
        customer_id: customer,
        recipient: Buyer {
            name: c.name.clone(),
            address: c.billing_address.clone(),
            country: c.country.clone(),
            vat_id: c.vat_id.clone(),
            payment_terms_days: c.payment_terms_days,
        },
        period: cx.period,
        groups,
        net,
        vat_rate,
        vat,
        gross: net + vat,
        tax_case,
        note,
        changes: changes(&cx, customer),
    }))
}

/// What changed in the period, against the month before: VMs new, resized, moved and
/// decommissioned (by effective time), and price lists that took effect.
fn changes(cx: &Context<'_>, customer: CustomerId) -> Vec<String> {
    let inside = |t: Instant| t >= cx.span.0 && t < cx.span.1;
    let day = |t: Instant| t.with_timezone(&chrono_tz::Europe::Berlin).format("%d.%m.%Y").to_string();
    let project_name = |p: &ProjectId| cx.at.project(p).map(|p| p.name.clone()).unwrap_or_default();
    let mut out = vec![];
    for id in vms_of(cx.at, customer) {
        let Some(vm) = cx.at.vm(&id) else { continue };
        let timeline = vm.timeline();
        for (i, c) in timeline.iter().enumerate() {
            if !inside(c.from) {
                continue;
            }
            let r = &c.resources;
            match i.checked_sub(1).map(|j| &timeline[j]) {
                None => out.push(format!(
                    "New VM {} in {} from {}: {} vCPU, {} GB RAM, {} GB disk",
                    vm.name,
                    project_name(&c.project_id),
                    day(c.from),
                    r.cpu,
                    r.ram_gb,
                    r.disk_gb
                )),
                Some(prev) if prev.project_id != c.project_id => out.push(format!(
                    "VM {} moved from {} to {} on {}",
                    vm.name,
                    project_name(&prev.project_id),
                    project_name(&c.project_id),
                    day(c.from)
                )),
                Some(prev) if prev.resources != c.resources => out.push(format!(
                    "VM {} resized on {}: {} → {} vCPU, {} → {} GB RAM, {} → {} GB disk",
                    vm.name,
                    day(c.from),
                    prev.resources.cpu,
                    r.cpu,
                    prev.resources.ram_gb,
                    r.ram_gb,
                    prev.resources.disk_gb,
                    r.disk_gb
                )),
                Some(_) => {}
            }
        }
        if let Some(d) = vm.decommissioned_at.filter(|d| inside(*d)) {
            out.push(format!("VM {} decommissioned on {}", vm.name, day(d)));
        }
    }
    for list in &cx.lists {
        if inside(list.valid_from) {
            out.push(format!("New prices from {}", day(list.valid_from)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, Recorded};
    use chrono::TimeZone;
    use domain::AnyEvent;
    use domain::customer::CustomerEvent;
    use domain::http_monitor::{ExpectedStatus, HttpMonitorEvent, MonitorConfig};
    use domain::price_list::PriceListEvent;
    use domain::project::ProjectEvent;
    use domain::{MonitorId, ProjectId};
    use uuid::Uuid;

    fn utc(m: u32, d: u32, h: u32) -> Instant {
        chrono::Utc.with_ymd_and_hms(2026, m, d, h, 0, 0).unwrap()
    }
    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn catalog(country: &str, vat_id: Option<&str>, monitor: &[HttpMonitorEvent]) -> (Catalog, CustomerId) {
        let (c, p, m) = (CustomerId(Uuid::from_u128(1)), ProjectId(Uuid::from_u128(2)), MonitorId(Uuid::from_u128(3)));
        let prices = Prices {
            vcpu: d("10"),
            ram_gb: d("1"),
            disk_gb: d("0.1"),
            backup_gb: d("0.02"),
            monitor: d("3.10"),
            sla_basic: d("0"),
            sla_standard: d("10"),
            sla_premium: d("40"),
        };
        let mut events: Vec<(String, AnyEvent)> = vec![
            (
                c.to_string(),
                AnyEvent::Customer(CustomerEvent::CustomerRegistered {
                    id: c,
                    name: "Acme".into(),
                    country: country.into(),
                    vat_id: vat_id.map(Into::into),
                    billing_address: "Street 1\n12345 Town".into(),
                    payment_terms_days: 14,
                    effective_at: utc(1, 1, 0),
                }),
            ),
            (
                p.to_string(),
                AnyEvent::Project(ProjectEvent::ProjectCreated {
                    id: p,
                    customer_id: c,
                    parent_id: None,
                    name: "Shop".into(),
                    sla_class: SlaClass::Basic,
                    effective_at: utc(1, 1, 0),
                    resource_group: None,
                }),
            ),
            (
                "lists".into(),
                AnyEvent::PriceList(PriceListEvent::PriceListPublished { valid_from: utc(1, 1, 0), prices }),
            ),
        ];
        let config = MonitorConfig {
            url: "https://shop.example/".into(),
            follow_redirects: false,
            max_redirects: 0,
            expected_status: "200".parse::<ExpectedStatus>().unwrap(),
            interval_seconds: 60,
            timeout_seconds: 10,
        };
        events.push((
            m.to_string(),
            AnyEvent::HttpMonitor(HttpMonitorEvent::HttpMonitorCreated {
                checked_by: Default::default(),
                id: m,
                project_id: p,
                customer_id: c,
                config,
                effective_at: utc(3, 1, 0),
            }),
        ));
        events.extend(monitor.iter().map(|e| (m.to_string(), AnyEvent::HttpMonitor(e.clone()))));
        let mut catalog = Catalog::default();
        for (i, (aggregate_id, event)) in events.into_iter().enumerate() {
            catalog.apply(&Recorded {
                position: i as i64 + 1,
                recorded_at: utc(1, 1, 0),
                aggregate_id,
                sequence: 1,
                event_type: String::new(),
                metadata: Default::default(),
                event,
            });
        }
        (catalog, c)
    }

    #[test]
    fn a_paused_monitor_is_billed_only_while_it_was_checked() {
        let paused = [
            HttpMonitorEvent::HttpMonitorPaused { at: utc(3, 11, 0) },
            HttpMonitorEvent::HttpMonitorResumed { at: utc(3, 21, 0) },
        ];
        let (catalog, c) = catalog("DE", None, &paused);
        let bill = compute(catalog.live(), c, "2026-03".parse().unwrap(), &FromLog::new()).unwrap().unwrap();
        let lines = &bill.groups[0].lines;
        let spans: Vec<_> = lines.iter().map(|l| (l.from, l.to, l.amount)).collect();
        // March has 743 h: 3.10 € × 240 h / 743 h, and 3.10 € × 262 h / 743 h.
        let period = Decimal::from(743 * 3600);
        let first = cents(d("3.10") * Decimal::from(10 * 24 * 3600) / period);
        let second_seconds = (utc(3, 31, 22) - utc(3, 21, 0)).num_seconds();
        let second = cents(d("3.10") * Decimal::from(second_seconds) / period);
        assert_eq!(spans, vec![(utc(3, 1, 0), utc(3, 11, 0), first), (utc(3, 21, 0), utc(3, 31, 22), second)]);
        assert_eq!((first, second), (d("1.00"), d("1.09")));
    }

    #[test]
    fn vat_follows_the_customer_country_and_vat_id() {
        assert_eq!(vat("DE", None), (VAT_DE, TaxCase::Standard));
        assert_eq!(vat("DE", Some("DE1")), (VAT_DE, TaxCase::Standard));
        assert_eq!(vat("AT", Some("ATU1")), (Decimal::ZERO, TaxCase::ReverseCharge));
        assert_eq!(vat("AT", None), (VAT_DE, TaxCase::Standard), "an EU consumer pays German VAT");
        assert_eq!(vat("US", None), (Decimal::ZERO, TaxCase::NotTaxableHere));
        assert_eq!(vat("CH", Some("CHE1")), (Decimal::ZERO, TaxCase::NotTaxableHere));
        let (catalog, c) = catalog("US", None, &[]);
        let bill = compute(catalog.live(), c, "2026-03".parse().unwrap(), &FromLog::new()).unwrap().unwrap();
        assert_eq!((bill.vat_rate, bill.vat, bill.gross), (Decimal::ZERO, Decimal::ZERO, bill.net));
    }

    #[test]
    fn nothing_is_billed_before_a_customer_existed() {
        let (catalog, c) = catalog("DE", None, &[]);
        assert_eq!(compute(catalog.at(0), c, "2026-03".parse().unwrap(), &FromLog::new()), Ok(None));
        let bill = compute(catalog.live(), c, "2025-12".parse().unwrap(), &FromLog::new()).unwrap().unwrap();
        assert!(bill.groups.is_empty() && bill.net.is_zero(), "no price list, no monitor then");
    }
}
