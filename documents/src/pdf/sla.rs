//! The monthly SLA report as a PDF: the project and customer, the month, class and
//! target, the availability and whether it was met, a bar chart of the daily
//! availability, the incidents, the maintenance windows, how downtime was counted, and
//! the instant the report was generated as of.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Berlin;
use rust_decimal::Decimal;

use super::{About, LEFT, Page, RIGHT, Weight, document, german, month_name, wrap};
use projections::sla::SlaReport;

/// What the report names besides its figures.
pub struct Context {
    pub project: String,
    pub customer: String,
    pub path: Vec<String>,
    /// The monitors' URLs by id.
    pub monitors: std::collections::HashMap<String, String>,
    pub as_of: DateTime<Utc>,
}

fn when(t: DateTime<Utc>) -> String {
    t.with_timezone(&Berlin).format("%d.%m.%Y %H:%M").to_string()
}

fn duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {s:02} s")
    } else {
        format!("{s} s")
    }
}

fn percent(d: Decimal) -> String {
    format!("{} %", german(d, 1))
}

const COUNTING: &str = "So wurde gezählt: Ein Monitor ist vom Ausfall (zwei fehlgeschlagene Prüfungen in Folge) bis zur \
nächsten erfolgreichen Prüfung ausgefallen, höchstens bis zum Monatsende. Das Projekt ist ausgefallen, solange mindestens \
einer seiner Monitore ausgefallen ist; überlappende Ausfälle zählen einmal. Gezählt wird im Kalendermonat nach deutscher \
Zeit (Europe/Berlin). Wartungsfenster des Projekts oder der Plattform, die mindestens 24 Stunden vor Beginn angekündigt \
wurden, zählen nicht als Ausfall; später angekündigte zählen. Verfügbarkeit = 1 - gezählte Ausfallsekunden ÷ Sekunden des \
Monats, in Prozent auf drei Nachkommastellen abgeschnitten. Das Ziel ist verfehlt, wenn die Verfügbarkeit unter dem Ziel der \
SLA-Klasse liegt, die zu Monatsbeginn galt.";

enum Row {
    Heading(String),
    Incident { monitor: String, start: String, end: String, length: String, counted: String },
    Window { start: String, end: String, reason: String, in_time: String },
    Text(String),
    Gap,
}

pub fn render(r: &SlaReport, cx: &Context) -> Vec<u8> {
    let month = r.month;
    let mut rows = vec![Row::Heading(format!("Ausfälle ({})", r.incidents.len()))];
    if r.incidents.is_empty() {
        rows.push(Row::Text("Keine Ausfälle in diesem Monat.".into()));
    }
    for i in &r.incidents {
        rows.push(Row::Incident {
            monitor: cx.monitors.get(&i.monitor_id.to_string()).cloned().unwrap_or_else(|| i.monitor_id.to_string()),
            start: when(i.start),
            end: when(i.end),
            length: duration(i.seconds),
            counted: if i.excluded { "nein (Wartung)".into() } else { "ja".into() },
        });
    }
    rows.push(Row::Gap);
    rows.push(Row::Heading(format!("Wartungsfenster ({})", r.maintenance.len())));
    if r.maintenance.is_empty() {
        rows.push(Row::Text("Keine Wartungsfenster in diesem Monat.".into()));
    }
    for w in &r.maintenance {
        rows.push(Row::Window {
            start: when(w.start),
            end: when(w.end),
            reason: match &w.vm {
                Some((_, host)) => format!("{} (VM {host})", w.reason),
                None if w.platform => format!("{} (Plattform)", w.reason),
                None => w.reason.clone(),
            },
            in_time: if w.announced_in_time { "ja, ausgenommen".into() } else { "nein, gezählt".into() },
        });
    }
    rows.push(Row::Gap);
    for line in wrap(COUNTING, 8.0, Weight::Regular, RIGHT - LEFT) {
        rows.push(Row::Text(line));
    }

    // The first page holds the summary and the chart; tables continue on further pages.
    const ROW: f32 = 13.0;
    let mut pages: Vec<Vec<Row>> = vec![vec![]];
    let mut y = 330.0;
    for row in rows {
        if y < 80.0 {
            pages.push(vec![]);
            y = 780.0;
        }
        y -= ROW;
        pages.last_mut().expect("a page").push(row);
    }
    let count = pages.len();
    let mut out = vec![];
    for (n, rows) in pages.into_iter().enumerate() {
        let mut page = Page::new();
        let mut y = if n == 0 {
            summary(&mut page, r, cx, month);
            chart(&mut page, r);
            330.0
        } else {
            780.0
        };
        for row in rows {
            match row {
                Row::Heading(t) => page.text(LEFT, y, 11.0, Weight::Bold, &t),
                Row::Incident { monitor, start, end, length, counted } => {
                    page.text_fit(LEFT, y, 8.0, Weight::Regular, &monitor, 170.0);
                    page.text(225.0, y, 8.0, Weight::Regular, &start);
                    page.text(305.0, y, 8.0, Weight::Regular, &end);
                    page.text_right(445.0, y, 8.0, Weight::Regular, &length);
                    page.text(460.0, y, 8.0, Weight::Regular, &format!("gezählt: {counted}"));
                }
                Row::Window { start, end, reason, in_time } => {
                    page.text(LEFT, y, 8.0, Weight::Regular, &start);
                    page.text(130.0, y, 8.0, Weight::Regular, &end);
                    page.text_fit(210.0, y, 8.0, Weight::Regular, &reason, 200.0);
                    page.text(420.0, y, 8.0, Weight::Regular, &format!("rechtzeitig: {in_time}"));
                }
                Row::Text(t) => page.text_fit(LEFT, y, 8.0, Weight::Regular, &t, RIGHT - LEFT),
                Row::Gap => {}
            }
            y -= ROW;
        }
        page.rule(62.0, 0.3);
        page.text(LEFT, 50.0, 7.0, Weight::Regular, &format!("Stand der Daten: {} (Europe/Berlin)", when(cx.as_of)));
        page.text_right(RIGHT, 50.0, 8.0, Weight::Regular, &format!("Seite {} von {count}", n + 1));
        out.push(page);
    }
    let title = format!("SLA-Bericht {} {}", cx.project, r.month);
    document(About { title: &title, created: cx.as_of, attachment: None }, out)
}

fn summary(page: &mut Page, r: &SlaReport, cx: &Context, month: domain::Period) {
    let name = month_name(month);
    page.text(LEFT, 780.0, 18.0, Weight::Bold, &format!("SLA-Bericht {name}"));
    page.text_fit(LEFT, 758.0, 10.0, Weight::Regular, &format!("Kunde: {}", cx.customer), RIGHT - LEFT);
    page.text_fit(LEFT, 744.0, 10.0, Weight::Regular, &format!("Projekt: {}", cx.path.join(" › ")), RIGHT - LEFT);
    let class = format!("{:?}", r.class);
    let facts = [
        ("SLA-Klasse", class),
        ("Ziel", percent(r.target_percent)),
        ("Verfügbarkeit", format!("{} %", german(r.availability_percent, 3))),
        ("Gezählte Ausfallzeit", duration(r.downtime_seconds)),
        ("Durch Wartung ausgenommen", duration(r.excluded_maintenance_seconds)),
    ];
    let mut y = 716.0;
    for (label, value) in facts {
        page.text(LEFT, y, 10.0, Weight::Regular, label);
        page.text(210.0, y, 10.0, Weight::Bold, &value);
        y -= 14.0;
    }
    let verdict = if r.breached { "Ziel verfehlt" } else { "Ziel erreicht" };
    page.text(380.0, 716.0, 16.0, Weight::Bold, verdict);
}

/// Bars of the daily availability between a floor and 100 %, with the target as a line.
fn chart(page: &mut Page, r: &SlaReport) {
    let (x0, y0, width, height) = (LEFT + 30.0, 400.0, RIGHT - LEFT - 30.0, 200.0);
    page.text(LEFT, y0 + height + 20.0, 11.0, Weight::Bold, "Verfügbarkeit je Tag");
    let lowest = r.daily.iter().copied().min().unwrap_or(Decimal::ONE_HUNDRED);
    let target = r.target_percent;
    // The floor: a whole percent below both the worst day and the target.
    let floor = (lowest.min(target) - Decimal::ONE).floor().max(Decimal::ZERO);
    let span = Decimal::ONE_HUNDRED - floor;
    let scale = |d: Decimal| -> f32 {
        let part = ((d - floor) / span).clamp(Decimal::ZERO, Decimal::ONE);
        height * part.to_string().parse::<f32>().unwrap_or(0.0)
    };
    page.line(x0, y0, x0 + width, y0, 0.5);
    page.line(x0, y0, x0, y0 + height, 0.5);
    page.text_right(x0 - 4.0, y0 + height - 3.0, 7.0, Weight::Regular, "100 %");
    page.text_right(x0 - 4.0, y0 - 3.0, 7.0, Weight::Regular, &format!("{} %", german(floor, 0)));
    let days = r.daily.len().max(1) as f32;
    let slot = width / days;
    for (i, d) in r.daily.iter().copied().enumerate() {
        let x = x0 + i as f32 * slot + slot * 0.15;
        let gray = if d < target { 0.2 } else { 0.6 };
        page.rect(x, y0, slot * 0.7, scale(d).max(0.5), gray);
        if i == 0 || (i + 1) % 5 == 0 {
            page.text(x, y0 - 12.0, 7.0, Weight::Regular, &(i + 1).to_string());
        }
    }
    let ty = y0 + scale(target);
    page.line(x0, ty, x0 + width, ty, 0.8);
    page.text_right(x0 - 4.0, ty - 3.0, 7.0, Weight::Bold, "Ziel");
}
