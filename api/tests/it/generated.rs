//! Tenancy and staff roles on every field, generated from the served schema: each query and
//! mutation that takes an id is called with another customer's ids and with ids that do
//! not exist, and the two answers must be the same; auditors change nothing; each staff
//! role may change exactly what `MAY` says. A field added later is covered without
//! editing this file, or fails it until its id argument or its roles are named here.

use std::collections::BTreeMap;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use serde_json::{Value, json};

use crate::flows::{PROVISION, customer, person, project, s, staff};
use crate::helpers::{BOOT, TestApp, both_stores};

/// What an id argument refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Customer,
    Project,
    Vm,
    Person,
    Key,
    Token,
    Monitor,
    Window,
    Invoice,
    /// Releases belong to the platform, not to a customer.
    Release,
}

/// The kind an id argument (or input field) names; `None` for ids that name no existing
/// entity (a command id, or the id a creation chooses).
fn kind(field: &str, arg: &str, mutation: bool) -> Option<Kind> {
    Some(match arg {
        "commandId" => return None,
        "id" if mutation => return None,
        "customerId" => Kind::Customer,
        "projectId" | "parentId" | "platformProjectId" | "entityId" => Kind::Project,
        "vmId" => Kind::Vm,
        "personId" => Kind::Person,
        "keyId" => Kind::Key,
        "tokenId" => Kind::Token,
        "monitorId" => Kind::Monitor,
        "maintenanceId" => Kind::Window,
        "invoiceId" => Kind::Invoice,
        "releaseId" => Kind::Release,
        "id" => match field {
            "customer" => Kind::Customer,
            "project" => Kind::Project,
            "vm" => Kind::Vm,
            "person" => Kind::Person,
            "httpMonitor" => Kind::Monitor,
            "invoice" => Kind::Invoice,
            _ => panic!("{field}(id): name what this id refers to in tenancy::kind"),
        },
        _ => panic!("{field}({arg}: ID): name what this id refers to in tenancy::kind"),
    })
}

/// The staff roles besides ADMIN that may make each change (AUDITOR may make none).
const MAY: &[(&str, &[&str])] = &[
    ("registerCustomer", &["BILLING"]),
    ("renameCustomer", &["BILLING"]),
    ("changeBillingAddress", &["BILLING"]),
    ("closeCustomer", &["BILLING"]),
    ("registerPerson", &["OPS"]),
    ("grantRole", &[]),
    ("revokeRole", &[]),
    ("grantStaffRole", &[]),
    ("revokeStaffRole", &[]),
    ("deactivatePerson", &[]),
    ("issueToken", &[]),
    ("revokeToken", &[]),
    ("addSshKey", &["OPS"]),
    ("revokeSshKey", &["OPS"]),
    ("createProject", &["OPS"]),
    ("renameProject", &["OPS"]),
    ("allowInternalMonitorTargets", &["OPS"]),
    ("changeSlaClass", &["OPS"]),
    ("addDeployment", &["OPS"]),
    ("removeDeployment", &["OPS"]),
    ("archiveProject", &["OPS"]),
    ("provisionVm", &["OPS"]),
    ("resizeVm", &["OPS"]),
    ("moveVm", &["OPS"]),
    ("decommissionVm", &["OPS"]),
    ("setVmRoles", &["OPS"]),
    ("defineNetwork", &["OPS"]),
    ("setDirectoryRing", &["OPS"]),
    ("rotateNodePassword", &["OPS"]),
    ("recordBackup", &["OPS"]),
    ("expireBackup", &["OPS"]),
    ("createHttpMonitor", &["OPS"]),
    ("reconfigureHttpMonitor", &["OPS"]),
    ("deleteHttpMonitor", &["OPS"]),
    ("recordMonitorTransition", &["OPS"]),
    ("scheduleMaintenance", &["OPS"]),
    ("cancelMaintenance", &["OPS"]),
    ("publishPriceList", &["BILLING"]),
    ("runBilling", &["BILLING"]),
    ("cancelInvoice", &["BILLING"]),
    ("markSecretsRekeyed", &["OPS"]),
    ("scheduleRelease", &["OPS"]),
    ("vetoRelease", &["OPS", "BILLING"]),
    ("withdrawVeto", &["OPS", "BILLING"]),
    ("decideRelease", &["OPS"]),
    ("cancelRelease", &["OPS"]),
    ("markReleaseRolledOut", &["OPS"]),
    ("configureReleaseChannel", &["OPS"]),
];

/// Queries that show a secret: staff OPS only (not auditors), each showing recorded.
const SECRETS: &[&str] = &["nodeCredentials"];

/// The served schema, as far as this test needs it.
pub(crate) struct Schema {
    pub(crate) queries: Vec<Field>,
    pub(crate) mutations: Vec<Field>,
    /// Input object name → its fields.
    pub(crate) inputs: BTreeMap<String, Vec<(String, Type)>>,
    /// Enum name → its first value.
    enums: BTreeMap<String, String>,
    /// Object and interface name → its fields (answers that need a selection).
    objects: BTreeMap<String, Vec<Field>>,
}

pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) args: Vec<(String, Type)>,
    ty: Type,
}

pub(crate) fn base_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => base_name(inner),
    }
}

pub(crate) fn schema() -> Schema {
    let doc = parse_schema(api::graphql::sdl()).expect("the served schema parses");
    let mut schema = Schema {
        queries: vec![],
        mutations: vec![],
        inputs: BTreeMap::new(),
        enums: BTreeMap::new(),
        objects: BTreeMap::new(),
    };
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else { continue };
        let t = t.node;
        let name = t.name.node.to_string();
        match t.kind {
            TypeKind::Object(o) => {
                let fields = o.fields.into_iter().map(|f| {
                    let f = f.node;
                    Field {
                        name: f.name.node.to_string(),
                        args: f.arguments.into_iter().map(|a| (a.node.name.node.to_string(), a.node.ty.node)).collect(),
                        ty: f.ty.node,
                    }
                });
                match name.as_str() {
                    "Query" => schema.queries = fields.collect(),
                    "Mutation" => schema.mutations = fields.collect(),
                    _ => {
                        schema.objects.insert(name, fields.collect());
                    }
                }
            }
            TypeKind::Interface(_) | TypeKind::Union(_) => panic!("{name}: teach the test to select from it"),
            TypeKind::InputObject(i) => {
                let fields = i.fields.into_iter().map(|f| (f.node.name.node.to_string(), f.node.ty.node)).collect();
                schema.inputs.insert(name, fields);
            }
            TypeKind::Enum(e) => {
                schema.enums.insert(name, e.values[0].node.value.node.to_string());
            }
            TypeKind::Scalar => {}
        }
    }
    assert!(!schema.queries.is_empty() && !schema.mutations.is_empty());
    schema
}

/// The ids of one customer's things (and the platform's release).
pub(crate) struct Tenant {
    pub(crate) ids: BTreeMap<Kind, String>,
}

impl Schema {
    /// Whether a field takes an id of an existing entity (directly or in an input).
    pub(crate) fn id_kinds(&self, field: &Field, mutation: bool) -> Vec<Kind> {
        let mut kinds = vec![];
        for (arg, ty) in &field.args {
            self.collect_kinds(&field.name, arg, ty, mutation, &mut kinds);
        }
        kinds
    }

    fn collect_kinds(&self, field: &str, name: &str, ty: &Type, mutation: bool, kinds: &mut Vec<Kind>) {
        let base = base_name(ty);
        if base == "ID" {
            kinds.extend(kind(field, name, mutation));
        } else if let Some(fields) = self.inputs.get(base) {
            for (f, t) in fields {
                // An input's `id` is the id a creation chooses, never a reference.
                if f != "id" {
                    self.collect_kinds(field, f, t, true, kinds);
                }
            }
        }
    }

    /// The arguments for a call, as GraphQL literals: required ones, and every id, from `ids`.
    pub(crate) fn arguments(
        &self,
        field: &Field,
        mutation: bool,
        ids: &dyn Fn(Kind) -> String,
    ) -> Vec<(String, String)> {
        field
            .args
            .iter()
            .filter_map(|(name, ty)| Some((name.clone(), self.value(&field.name, name, ty, mutation, ids)?)))
            .collect()
    }

    pub(crate) fn value(
        &self,
        field: &str,
        name: &str,
        ty: &Type,
        mutation: bool,
        ids: &dyn Fn(Kind) -> String,
    ) -> Option<String> {
        let base = base_name(ty);
        if base == "ID" {
            return kind(field, name, mutation).map(|k| json!(ids(k)).to_string());
        }
        if let Some(fields) = self.inputs.get(base) {
            let inner: Vec<String> = fields
                .iter()
                .filter(|(f, _)| f != "id")
                .filter_map(|(f, t)| Some(format!("{f}: {}", self.value(field, f, t, true, ids)?)))
                .collect();
            return Some(format!("{{{}}}", inner.join(", ")));
        }
        if ty.nullable {
            return None;
        }
        Some(match base {
            "String" => json!(match name {
                "month" | "period" => "2026-03",
                "deployment" => "prod",
                "channel" => "stable",
                "isoWeek" => "2027-W10",
                "backupId" => "b-1",
                "url" => "https://shop.example.com/health",
                "expectedStatus" => "200",
                "country" => "DE",
                "email" => "someone@example.com",
                "location" => "fsn1",
                "publicKey" => crate::flows::ED25519,
                _ => "Tenancy check",
            })
            .to_string(),
            "Int" => match name {
                "cpu" => 2,
                "ramGb" => 4,
                "diskGb" => 40,
                "leadHours" => 48,
                _ => 1,
            }
            .to_string(),
            "Long" => "0".into(),
            "Boolean" => "false".into(),
            "Decimal" => "\"1.00\"".into(),
            "DateTime" => json!(match name {
                "start" => "2027-01-10T00:00:00Z",
                "end" => "2027-01-10T02:00:00Z",
                "announcedAt" => "2026-11-01T00:00:00Z",
                "at" => "2026-04-01T00:00:00Z",
                _ => "2026-03-20T00:00:00Z",
            })
            .to_string(),
            // A monitor's recorded transition is to UP or DOWN.
            "MonitorState" => "DOWN".into(),
            e if self.enums.contains_key(e) => self.enums[e].clone(),
            other => panic!("{field}({name}: {other}): give the test a value for this type"),
        })
    }

    /// `query { field(args) { __typename } }`.
    pub(crate) fn document(&self, field: &Field, mutation: bool, args: &[(String, String)]) -> String {
        let args = if args.is_empty() {
            String::new()
        } else {
            let inline: Vec<String> = args.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("({})", inline.join(", "))
        };
        format!(
            "{} {{ {}{args}{} }}",
            if mutation { "mutation" } else { "query" },
            field.name,
            self.selection(&field.ty, 0)
        )
    }

    /// Every field of an answer that takes no required argument, two levels deep: enough
    /// to tell a found entity from a missing one, and the same for any two ids.
    fn selection(&self, ty: &Type, depth: usize) -> String {
        let Some(fields) = self.objects.get(base_name(ty)) else { return String::new() };
        let mut picked = vec!["__typename".to_owned()];
        for f in fields {
            if f.args.iter().any(|(_, t)| !t.nullable) {
                continue;
            }
            if !self.objects.contains_key(base_name(&f.ty)) {
                picked.push(f.name.clone());
            } else if depth < 1 {
                picked.push(format!("{}{}", f.name, self.selection(&f.ty, depth + 1)));
            }
        }
        format!(" {{ {} }}", picked.join(" "))
    }
}

/// An answer with the given ids replaced, so answers about different ids compare.
pub(crate) fn normalized(answer: &Value, ids: &[String]) -> String {
    let mut text = answer.to_string();
    for id in ids {
        text = text.replace(id.as_str(), "<id>");
    }
    text
}

pub(crate) fn code(answer: &Value) -> Option<&str> {
    answer["errors"][0]["extensions"]["code"].as_str()
}

pub(crate) async fn call(app: &TestApp, token: &str, document: &str) -> Value {
    app.gql(token, document, json!({})).await
}

/// One customer's things: a project with a deployment, a person with a token and a key
/// who manages the project, a VM with a backup, a monitor, a maintenance window and an invoice.
pub(crate) async fn tenant(app: &TestApp, name: &str) -> (Tenant, String) {
    let c = customer(app, name, "DE").await;
    let p = project(app, &c, None, "Shop").await;
    let (person_id, token) = person(app, Some(&c), &format!("{name} manager")).await;
    app.ok(
        BOOT,
        "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: MANAGER) { id } }",
        json!({"p": person_id, "pr": p}),
    )
    .await;
    let issued =
        app.ok(BOOT, "mutation($p: ID!) { issueToken(personId: $p) { tokenId } }", json!({"p": person_id})).await;
    let token_id = s(&issued["issueToken"]["tokenId"]);
    let dir = std::env::temp_dir().join(format!("directory-tenancy-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = crate::keys::keypair(&dir, name).1;
    let _ = std::fs::remove_dir_all(&dir);
    let k = app
        .ok(
            BOOT,
            "mutation($p: ID!, $k: String!) { addSshKey(personId: $p, publicKey: $k) { id } }",
            json!({"p": person_id, "k": key}),
        )
        .await;
    app.ok(
        BOOT,
        "mutation($p: ID!) { addDeployment(projectId: $p, name: \"prod\", environment: \"production\") { id } }",
        json!({"p": p}),
    )
    .await;
    let vm = json!({"i": {"projectId": p, "name": "web-1", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-02-01T00:00:00Z"}});
    let vm = s(&app.ok(BOOT, PROVISION, vm).await["provisionVm"]["id"]);
    let backup = json!({"i": {"vmId": vm, "backupId": "b-1", "status": "SUCCEEDED", "startedAt": "2026-03-09T23:30:00Z", "finishedAt": "2026-03-10T00:00:00Z", "sizeBytes": 1_000_000_000i64}});
    app.ok(BOOT, "mutation($i: RecordBackupInput!) { recordBackup(input: $i) { backupId } }", backup).await;
    let monitor = json!({"i": {"projectId": p, "url": "https://shop.example.com/", "followRedirects": false, "expectedStatus": "200", "effectiveAt": "2026-03-01T00:00:00Z"}});
    let monitor = s(&app
        .ok(BOOT, "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }", monitor)
        .await["createHttpMonitor"]["id"]);
    let window = app
        .ok(
            BOOT,
            "mutation($p: ID) { scheduleMaintenance(projectId: $p, start: \"2027-02-01T00:00:00Z\", end: \"2027-02-01T01:00:00Z\", announcedAt: \"2026-11-01T00:00:00Z\", reason: \"kernel\") { id } }",
            json!({"p": p}),
        )
        .await;
    let ids = BTreeMap::from([
        (Kind::Customer, c),
        (Kind::Project, p),
        (Kind::Person, person_id),
        (Kind::Token, token_id),
        (Kind::Key, s(&k["addSshKey"]["id"])),
        (Kind::Vm, vm),
        (Kind::Monitor, monitor),
        (Kind::Window, s(&window["scheduleMaintenance"]["id"])),
    ]);
    (Tenant { ids }, token)
}

/// Two customers with one of everything each, and a release of the platform.
pub(crate) async fn two_tenants(app: &TestApp) -> (Tenant, String, Tenant) {
    let (mut acme, acme_token) = tenant(app, "Acme").await;
    let (mut globex, _) = tenant(app, "Globex").await;
    // An invoice each, and a release of the platform.
    let prices = json!({"i": {"validFrom": "2026-01-01T00:00:00+01:00", "vcpu": "12.50", "ramGb": "3.20", "diskGb": "0.045", "backupGb": "0.02", "monitor": "1.50", "slaBasic": "0", "slaStandard": "15", "slaPremium": "45"}});
    app.ok(BOOT, "mutation($i: PublishPriceListInput!) { publishPriceList(input: $i) { position } }", prices).await;
    let run = app.ok(BOOT, "mutation { runBilling(period: \"2026-03\") { id customerId } }", json!({})).await;
    for invoice in run["runBilling"].as_array().unwrap() {
        let owner = if invoice["customerId"] == json!(acme.ids[&Kind::Customer]) { &mut acme } else { &mut globex };
        owner.ids.insert(Kind::Invoice, s(&invoice["id"]));
    }
    let release = app
        .ok(
            BOOT,
            "mutation { scheduleRelease(channel: \"stable\", isoWeek: \"2027-W10\", changelog: \"x\") { id } }",
            json!({}),
        )
        .await;
    let release = s(&release["scheduleRelease"]["id"]);
    for t in [&mut acme, &mut globex] {
        assert_eq!(t.ids.len(), 9, "every kind has an id: {:?}", t.ids.keys().collect::<Vec<_>>());
        t.ids.insert(Kind::Release, release.clone());
    }
    (acme, acme_token, globex)
}

both_stores!(every_field_that_takes_an_id_keeps_tenants_apart_and_staff_to_their_roles, async |app: &TestApp| {
    let schema = schema();
    let (_, acme_token, globex) = two_tenants(app).await;
    let auditor = staff(app, "Audrey", "AUDITOR").await;
    let roles =
        BTreeMap::from([("OPS", staff(app, "Otto", "OPS").await), ("BILLING", staff(app, "Bea", "BILLING").await)]);

    let mut fields: Vec<(&Field, bool)> = schema.queries.iter().map(|f| (f, false)).collect();
    fields.extend(schema.mutations.iter().map(|f| (f, true)));
    let unknown: BTreeMap<Kind, String> = globex.ids.keys().map(|k| (*k, uuid::Uuid::new_v4().to_string())).collect();
    let every_id = |t: &BTreeMap<Kind, String>| t.values().cloned().collect::<Vec<_>>();
    let (foreign_ids, unknown_ids) = (every_id(&globex.ids), every_id(&unknown));
    let mut covered = vec![];
    let mut covered_as_of: Vec<String> = vec![];
    // Everything above is recorded by now, a second ago (`asOf` is recorded time).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let as_of = (chrono::Utc::now() - chrono::Duration::milliseconds(500)).to_rfc3339();

    // 1. A customer's token: another customer's ids answer as unknown ones do, and change nothing.
    for (field, mutation) in &fields {
        let kinds = schema.id_kinds(field, *mutation);
        if kinds.is_empty() || kinds.iter().all(|k| *k == Kind::Release) {
            continue;
        }
        let head = app.head().await;
        let foreign =
            schema.document(field, *mutation, &schema.arguments(field, *mutation, &|k| globex.ids[&k].clone()));
        let made_up = schema.document(
            field,
            *mutation,
            &schema.arguments(field, *mutation, &|k| {
                if k == Kind::Release { globex.ids[&k].clone() } else { unknown[&k].clone() }
            }),
        );
        let a = call(app, &acme_token, &foreign).await;
        let b = call(app, &acme_token, &made_up).await;
        assert_eq!(
            normalized(&a, &foreign_ids),
            normalized(&b, &unknown_ids),
            "{} answers another customer's ids unlike unknown ones:\n{foreign}\n{a}\n{b}",
            field.name
        );
        assert_eq!(app.head().await, head, "{}: a customer changed another customer's things", field.name);
        covered.push(field.name.clone());
        // The same as of an instant (after everything was recorded: the view of the past).
        if !*mutation && field.args.iter().any(|(name, _)| name == "asOf") {
            let at = ("asOf".to_owned(), json!(as_of).to_string());
            let with_at = |ids: &dyn Fn(Kind) -> String| {
                let mut args = schema.arguments(field, false, ids);
                args.push(at.clone());
                schema.document(field, false, &args)
            };
            let foreign = with_at(&|k| globex.ids[&k].clone());
            let made_up = with_at(&|k| if k == Kind::Release { globex.ids[&k].clone() } else { unknown[&k].clone() });
            let (a, b) = (call(app, &acme_token, &foreign).await, call(app, &acme_token, &made_up).await);
            assert_eq!(
                normalized(&a, &foreign_ids),
                normalized(&b, &unknown_ids),
                "{} as of answers another customer's ids unlike unknown ones:\n{foreign}\n{a}\n{b}",
                field.name
            );
            let (real, none) = (call(app, BOOT, &foreign).await, call(app, BOOT, &made_up).await);
            assert_ne!(
                normalized(&real, &foreign_ids),
                normalized(&none, &unknown_ids),
                "{}: as of, an admin cannot tell real ids from unknown ones:\n{foreign}\n{real}",
                field.name
            );
            covered_as_of.push(field.name.clone());
        }
    }
    assert!(covered_as_of.len() >= 8, "the fields that take asOf were visited: {covered_as_of:?}");
    eprintln!("tenancy as of: {} fields: {covered_as_of:?}", covered_as_of.len());

    // 2. Auditors read everything and change nothing.
    let head = app.head().await;
    for field in &schema.mutations {
        let doc = schema.document(field, true, &schema.arguments(field, true, &|k| globex.ids[&k].clone()));
        let answer = call(app, &auditor, &doc).await;
        assert_eq!(code(&answer), Some("FORBIDDEN"), "an auditor may not call {}: {answer}", field.name);
    }
    assert_eq!(app.head().await, head);
    for field in &schema.queries {
        let doc = schema.document(field, false, &schema.arguments(field, false, &|k| globex.ids[&k].clone()));
        let answer = call(app, &auditor, &doc).await;
        match SECRETS.contains(&field.name.as_str()) {
            true => assert_eq!(code(&answer), Some("FORBIDDEN"), "{} shows a secret: {answer}", field.name),
            false => assert_ne!(code(&answer), Some("FORBIDDEN"), "an auditor may read {}: {answer}", field.name),
        }
    }
    assert_eq!(app.head().await, head, "a refused showing of a secret is not recorded as one");

    // 3. Staff roles: a role not named in MAY is refused and appends nothing.
    let may: BTreeMap<&str, &[&str]> = MAY.iter().copied().collect();
    for field in &schema.mutations {
        let allowed =
            may.get(field.name.as_str()).unwrap_or_else(|| panic!("{}: name its staff roles in MAY", field.name));
        for (role, token) in &roles {
            if allowed.contains(role) {
                continue;
            }
            let doc = schema.document(field, true, &schema.arguments(field, true, &|k| globex.ids[&k].clone()));
            let answer = call(app, token, &doc).await;
            assert_eq!(code(&answer), Some("FORBIDDEN"), "{role} may not call {}: {answer}", field.name);
        }
    }
    assert_eq!(app.head().await, head, "refused changes appended nothing");

    // 4. The ids were real: an admin's answer for the other customer's ids differs from the
    //    answer for unknown ones (so the checks above compared more than two refusals).
    for (field, mutation) in &fields {
        if !covered.contains(&field.name) {
            continue;
        }
        let made_up = schema.document(
            field,
            *mutation,
            &schema.arguments(field, *mutation, &|k| {
                if k == Kind::Release { globex.ids[&k].clone() } else { unknown[&k].clone() }
            }),
        );
        let real = schema.document(field, *mutation, &schema.arguments(field, *mutation, &|k| globex.ids[&k].clone()));
        let b = call(app, BOOT, &made_up).await;
        let a = call(app, BOOT, &real).await;
        assert_ne!(
            normalized(&a, &foreign_ids),
            normalized(&b, &unknown_ids),
            "{}: an admin cannot tell real ids from unknown ones:\n{real}\n{a}",
            field.name
        );
        assert_ne!(
            code(&b),
            Some("BAD_INPUT"),
            "{}: the generated arguments are bad input:\n{made_up}\n{b}",
            field.name
        );
    }

    // 5. The roles named in MAY are let through (these calls change things, so they come last).
    for field in &schema.mutations {
        for role in may[field.name.as_str()] {
            let doc = schema.document(field, true, &schema.arguments(field, true, &|k| globex.ids[&k].clone()));
            let answer = call(app, &roles[role], &doc).await;
            assert_ne!(code(&answer), Some("FORBIDDEN"), "{role} may call {}: {answer}", field.name);
        }
    }
    assert!(covered.len() >= 40, "the schema's id-taking fields were visited: {covered:?}");
    eprintln!("tenancy: {} fields with ids checked: {covered:?}", covered.len());
});

/// Values that are wrong for an argument of each type.
fn garbage(base: &str, enums: &BTreeMap<String, String>) -> Vec<String> {
    let strings = |v: &[&str]| v.iter().map(|s| json!(s).to_string()).collect::<Vec<_>>();
    match base {
        "ID" => strings(&["", "not-an-id", "00000000-0000-0000-0000-000000000000", "' OR 1=1 --", "../../etc/passwd"]),
        "String" => {
            let mut v =
                strings(&["", " ", "\u{0}", "'; DROP TABLE events; --", "2026-13", "9999-W99", "<script>x</script>"]);
            v.push(json!("x".repeat(5000)).to_string());
            v
        }
        "Int" => ["-1", "0", "2147483647", "-2147483648"].map(str::to_owned).to_vec(),
        "Long" => ["-1", "9007199254740993"].map(str::to_owned).to_vec(),
        "DateTime" => {
            strings(&["yesterday", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-02-30T00:00:00Z", ""])
        }
        "Decimal" => {
            let mut v = strings(&["abc", "1e9999", "-0.001", "99999999999999999999999999999", ""]);
            v.push("1.5".into());
            v
        }
        "Boolean" => vec!["\"yes\"".into()],
        e if enums.contains_key(e) => vec!["NOT_A_VALUE".into()],
        _ => vec![],
    }
}

/// Text that must never reach a client: panics, source paths, SQL, connection strings.
pub(crate) const INTERNALS: &[&str] = &[
    "panicked",
    ".rs:",
    "src/",
    "/root",
    "/home",
    "/usr/",
    "/tmp/",
    "sqlx",
    "SQLSTATE",
    "SELECT ",
    "INSERT INTO",
    "UPDATE log_head",
    "syntax error at",
    "backtrace",
    "postgres://",
    "sqlite:",
    "violates",
    "constraint",
];

const CODES: &[&str] = &["BAD_INPUT", "NOT_FOUND", "CONFLICT", "FORBIDDEN", "RULE_VIOLATION"];

both_stores!(every_argument_refuses_garbage_with_a_code_no_internals_and_no_partial_change, async |app: &TestApp| {
    let schema = schema();
    let (_, _, globex) = two_tenants(app).await;
    let mut fields: Vec<(&Field, bool)> = schema.queries.iter().map(|f| (f, false)).collect();
    fields.extend(schema.mutations.iter().map(|f| (f, true)));
    let (mut calls, mut refused) = (0, 0);
    for (field, mutation) in fields {
        let valid = schema.arguments(field, mutation, &|k| globex.ids[&k].clone());
        // Each argument, and each field of an input argument, wrong in turn; the others valid.
        let mut variants: Vec<Vec<(String, String)>> = vec![];
        for (name, ty) in &field.args {
            let base = base_name(ty);
            let replace = |value: String| {
                let mut args: Vec<(String, String)> = valid.iter().filter(|(n, _)| n != name).cloned().collect();
                args.push((name.clone(), value));
                args
            };
            if let Some(inputs) = schema.inputs.get(base) {
                variants.push(replace("{}".into()));
                for (f, t) in inputs {
                    for bad in garbage(base_name(t), &schema.enums) {
                        let others: Vec<String> = inputs
                            .iter()
                            .filter(|(g, _)| g != f && g != "id")
                            .filter_map(|(g, t)| {
                                Some(format!(
                                    "{g}: {}",
                                    schema.value(&field.name, g, t, true, &|k| globex.ids[&k].clone())?
                                ))
                            })
                            .collect();
                        variants.push(replace(format!("{{{}, {f}: {bad}}}", others.join(", "))));
                    }
                }
            } else {
                for bad in garbage(base, &schema.enums) {
                    variants.push(replace(bad));
                }
            }
        }
        for args in variants {
            let document = schema.document(field, mutation, &args);
            let head = app.head().await;
            let body = serde_json::to_vec(&json!({ "query": document })).unwrap();
            let (status, answer) = app.post(Some(BOOT), body).await;
            calls += 1;
            assert!(status.as_u16() == 200 || status.as_u16() == 400, "{status} for {document}: {answer}");
            let text = answer.to_string();
            for internal in INTERNALS {
                assert!(!text.contains(internal), "{internal:?} leaked for {document}: {text}");
            }
            if let Some(errors) = answer["errors"].as_array() {
                refused += 1;
                for e in errors {
                    let c = e["extensions"]["code"].as_str().unwrap_or_default();
                    assert!(CODES.contains(&c), "a contract code for {document}: {answer}");
                }
                assert_eq!(app.head().await, head, "a refused change appended nothing: {document}");
            } else if mutation && std::env::var("SHOW_ACCEPTED").is_ok() {
                eprintln!("accepted: {document}");
            }
        }
    }
    assert!(calls > 500 && refused > calls / 2, "{refused} of {calls} calls refused");
    // The nil UUID names nothing: a creation may not choose it.
    let nil = "00000000-0000-0000-0000-000000000000";
    for document in [
        format!(
            "mutation {{ registerCustomer(input: {{id: \"{nil}\", name: \"N\", country: \"DE\", billingAddress: \"B\"}}) {{ id }} }}"
        ),
        format!(
            "mutation {{ scheduleRelease(id: \"{nil}\", channel: \"stable\", isoWeek: \"2027-W20\", changelog: \"x\") {{ id }} }}"
        ),
    ] {
        assert_eq!(app.code(BOOT, &document, json!({})).await, "BAD_INPUT", "{document}");
    }
    eprintln!("garbage: {refused} of {calls} calls refused, each with a contract code and nothing internal");
});
