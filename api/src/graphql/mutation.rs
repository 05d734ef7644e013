//! Mutations: each checks the caller's roles, gathers the facts its command needs from the
//! read models, runs the command through the bus, and answers the entity's new state.

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use domain::backup_log::{BackupLogCommand, VmFacts};
use domain::customer::CustomerCommand;
use domain::person::{PersonCommand, Role as DomainRole, StaffRole as Staff};
use domain::platform;
use domain::project::{self as project, ProjectCommand};
use domain::ssh_key::{SshKeyCommand, parse_public_key};
use domain::vm::{self as vm, VmCommand};
use domain::{CustomerId, PersonId, ProjectId, SshKeyId, TokenId, VmId, person};
use projections::Catalog;
use store::Guard;
use uuid::Uuid;

use super::new_or;
use super::scalars::{BackupStatus, Long, Role, SlaClass, StaffRole};
use super::types::{BackupNode, CustomerNode, IssuedToken, PersonNode, ProjectNode, SshKeyNode, VmNode};
use super::{View, answered, app, envelope, parse_id, parsed, principal};
use app::auth::{self, Principal};
use app::commands::Executed;
use app::error::ApiError;
use app::policy::{
    manages_customer, may_manage, self_or_admin, visible_customer, visible_person, visible_project, visible_vm,
};
use app::state::AppState;
use app::{addresses, naming};

#[derive(InputObject)]
pub struct RegisterCustomerInput {
    pub id: Option<ID>,
    pub command_id: Option<ID>,
    pub name: String,
    pub country: String,
    pub vat_id: Option<String>,
    pub billing_address: String,
    pub effective_at: Option<DateTime<Utc>>,
    /// Days until an invoice is due; 14 when omitted.
    pub payment_terms_days: Option<i32>,
}

#[derive(InputObject)]
pub struct RegisterPersonInput {
    pub id: Option<ID>,
    pub command_id: Option<ID>,
    pub name: String,
    pub email: String,
    /// Omitted for a member of staff.
    pub customer_id: Option<ID>,
}

#[derive(InputObject)]
pub struct CreateProjectInput {
    pub id: Option<ID>,
    pub command_id: Option<ID>,
    pub customer_id: ID,
    pub parent_id: Option<ID>,
    pub name: String,
    pub sla_class: SlaClass,
    pub effective_at: Option<DateTime<Utc>>,
    /// The platform-wide unique name its machines know it by (2–40 lower-case letters,
    /// digits, `-` and `_`, starting with a letter); a free one made from its name when
    /// omitted. It never changes.
    pub resource_group: Option<String>,
}

#[derive(InputObject)]
pub struct ProvisionVmInput {
    pub id: Option<ID>,
    pub command_id: Option<ID>,
    pub project_id: ID,
    pub name: String,
    pub location: String,
    pub cpu: i32,
    pub ram_gb: i32,
    pub disk_gb: i32,
    pub effective_at: DateTime<Utc>,
    /// The platform-wide unique host name (2–63 lower-case letters, digits, `-` and `_`,
    /// starting with a letter); a free one made from its name when omitted. It never changes.
    pub hostname: Option<String>,
    /// The release channel it runs (`fc-24.05-production`).
    pub channel: Option<String>,
    /// The platform's roles (`webgateway`, `postgresql15`, …).
    pub roles: Option<Vec<String>>,
    /// Whether it serves production (default true).
    pub production: Option<bool>,
}

#[derive(InputObject)]
pub struct RecordBackupInput {
    pub command_id: Option<ID>,
    pub vm_id: ID,
    pub backup_id: String,
    pub status: BackupStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub size_bytes: Option<Long>,
    pub tags: Option<Vec<String>>,
    pub error: Option<String>,
}

#[derive(Default)]
pub struct CoreMutation;

/// The changed entity, as its command left it (see [`answered`]).
fn node<Id, T, N>(
    app: &AppState,
    done: &Executed,
    what: &str,
    find: impl FnOnce(projections::At<'_>, &Id) -> Option<T>,
    wrap: impl FnOnce(Id, T, View) -> N,
) -> Result<N, ApiError>
where
    Id: std::str::FromStr + std::fmt::Display,
{
    let id: Id = parsed(done.aggregate_id())?;
    let view = answered(done);
    let found =
        view.with(app, |at| find(at, &id)).ok_or_else(|| ApiError::NotFound(format!("{what} {id} does not exist")))?;
    Ok(wrap(id, found, view))
}

fn customer_node(app: &AppState, done: &Executed) -> Result<CustomerNode, ApiError> {
    node(app, done, "customer", |at, id| at.customer(id).cloned(), CustomerNode)
}

fn person_node(app: &AppState, done: &Executed) -> Result<PersonNode, ApiError> {
    node(app, done, "person", |at, id| at.person(id).cloned(), PersonNode)
}

fn project_node(app: &AppState, done: &Executed) -> Result<ProjectNode, ApiError> {
    node(app, done, "project", |at, id| at.project(id).cloned(), ProjectNode)
}

fn key_node(app: &AppState, done: &Executed) -> Result<SshKeyNode, ApiError> {
    node(app, done, "SSH key", |at, id| at.key(id).cloned(), |id, k, _| SshKeyNode(id, k))
}

pub(super) fn vm_node(app: &AppState, done: &Executed) -> Result<VmNode, ApiError> {
    node(app, done, "VM", |at, id| at.vm(id).map(|v| VmNode::new(*id, v.clone(), at)), |_, n, _| n)
}

#[Object]
impl CoreMutation {
    async fn register_customer(
        &self,
        ctx: &Context<'_>,
        input: RegisterCustomerInput,
        reason: Option<String>,
    ) -> Result<CustomerNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Billing])?;
        let (id, generated): (CustomerId, bool) = new_or(&input.id)?;
        let env = envelope(ctx, who, input.command_id.as_ref(), reason)?;
        let cmd = CustomerCommand::Register {
            id,
            name: input.name,
            country: input.country,
            vat_id: input.vat_id,
            billing_address: input.billing_address,
            payment_terms_days: input.payment_terms_days.map(i64::from),
            effective_at: app.effective("effectiveAt", input.effective_at)?,
        };
        let done = app.bus.create(&app.bus.customers, (&id.to_string(), generated), cmd, &env).await?;
        Ok(customer_node(app, &done)?)
    }

    async fn rename_customer(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        name: String,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<CustomerNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Billing])?;
        let id: CustomerId = parse_id(&customer_id, "customerId")?;
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let done = app.bus.execute(&app.bus.customers, &id.to_string(), CustomerCommand::Rename { name }, &env).await?;
        Ok(customer_node(app, &done)?)
    }

    async fn change_billing_address(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        billing_address: String,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<CustomerNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Billing])?;
        let id: CustomerId = parse_id(&customer_id, "customerId")?;
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let cmd = CustomerCommand::ChangeBillingAddress { billing_address };
        let done = app.bus.execute(&app.bus.customers, &id.to_string(), cmd, &env).await?;
        Ok(customer_node(app, &done)?)
    }

    async fn close_customer(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        effective_at: Option<DateTime<Utc>>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<CustomerNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Billing])?;
        let id: CustomerId = parse_id(&customer_id, "customerId")?;
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let cmd = CustomerCommand::Close { effective_at: app.effective("effectiveAt", effective_at)? };
        let done = app.bus.execute(&app.bus.customers, &id.to_string(), cmd, &env).await?;
        Ok(customer_node(app, &done)?)
    }

    async fn register_person(
        &self,
        ctx: &Context<'_>,
        input: RegisterPersonInput,
        reason: Option<String>,
    ) -> Result<PersonNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let (id, generated): (PersonId, bool) = new_or(&input.id)?;
        let customer = match &input.customer_id {
            Some(c) => {
                let c: CustomerId = parse_id(c, "customerId")?;
                let catalog = app.catalog();
                visible_customer(&catalog, who, c)?;
                if !who.has_staff_role(&[Staff::Ops]) && !manages_customer(&catalog, who, c) {
                    return Err(ApiError::forbidden().into());
                }
                let closed = catalog.customers.get(&c).is_some_and(|x| x.closed_at.is_some());
                Some(person::CustomerFacts { id: c, closed })
            }
            None => {
                who.require(&[])?;
                None
            }
        };
        let env = envelope(ctx, who, input.command_id.as_ref(), reason)?;
        let cmd = PersonCommand::Register { id, name: input.name, email: input.email, customer, at: app.now() };
        let done = app.bus.create(&app.bus.people, (&id.to_string(), generated), cmd, &env).await?;
        Ok(person_node(app, &done)?)
    }

    async fn grant_role(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
        project_id: ID,
        role: Role,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<PersonNode> {
        let prid: ProjectId = parse_id(&project_id, "projectId")?;
        let cmd = Cmd { command_id, reason };
        self.person_command(
            ctx,
            &person_id,
            cmd,
            |catalog, who, _| {
                let p = visible_project(catalog, who, prid)?;
                may_manage(catalog, who, prid, &[])?;
                Ok(person::ProjectFacts {
                    id: prid,
                    customer_id: p.customer_id.unwrap_or(CustomerId(Uuid::nil())),
                    archived: p.archived_at.is_some(),
                })
            },
            |project, at| PersonCommand::GrantRole { project, role: role.into(), at },
        )
        .await
    }

    async fn revoke_role(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
        project_id: ID,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<PersonNode> {
        let prid: ProjectId = parse_id(&project_id, "projectId")?;
        let cmd = Cmd { command_id, reason };
        self.person_command(
            ctx,
            &person_id,
            cmd,
            |catalog, who, _| {
                visible_project(catalog, who, prid)?;
                may_manage(catalog, who, prid, &[])
            },
            |(), at| PersonCommand::RevokeRole { project_id: prid, at },
        )
        .await
    }

    async fn grant_staff_role(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
        role: StaffRole,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<PersonNode> {
        let cmd = Cmd { command_id, reason };
        self.person_command(
            ctx,
            &person_id,
            cmd,
            |_, who, _| who.require(&[]),
            |(), at| PersonCommand::GrantStaffRole { role: role.into(), at },
        )
        .await
    }

    async fn revoke_staff_role(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
        role: StaffRole,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<PersonNode> {
        let cmd = Cmd { command_id, reason };
        self.person_command(
            ctx,
            &person_id,
            cmd,
            |_, who, _| who.require(&[]),
            |(), at| PersonCommand::RevokeStaffRole { role: role.into(), at },
        )
        .await
    }

    /// Deactivates a person: ADMIN, or a manager of the person's customer.
    async fn deactivate_person(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<PersonNode> {
        let cmd = Cmd { command_id, reason };
        self.person_command(
            ctx,
            &person_id,
            cmd,
            |catalog, who, p| {
                // A manager may deactivate only people whose every role lies in projects the
                // manager manages: never someone elsewhere in the customer.
                let manager = match who {
                    Principal::Person { id, customer_id: Some(own), .. } if p.customer_id == Some(*own) => {
                        let live = catalog.live();
                        !p.roles.is_empty()
                            && p.roles
                                .keys()
                                .all(|project| live.effective_role(*id, *project) == Some(DomainRole::Manager))
                    }
                    _ => false,
                };
                if who.has_staff_role(&[]) || manager { Ok(()) } else { Err(ApiError::forbidden()) }
            },
            |(), at| PersonCommand::Deactivate { at },
        )
        .await
    }

    /// Issues an API token for a person: ADMIN for anyone, or a person for themselves.
    /// The token is shown once; only its SHA-256 is stored. Without `expiresAt` it lives
    /// the deployment's default lifetime (90 days unless configured); no token lives longer
    /// than the maximum (365 days unless configured).
    async fn issue_token(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
        expires_at: Option<DateTime<Utc>>,
        reason: Option<String>,
    ) -> Result<IssuedToken> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let pid: PersonId = parse_id(&person_id, "personId")?;
        {
            let catalog = app.catalog();
            self_or_admin(&catalog, who, visible_person(&catalog, who, pid)?)?;
        }
        // A token is never replayed: each call issues a new one, so no commandId here.
        let token = auth::new_token();
        let token_id = TokenId(Uuid::new_v4());
        let env = envelope(ctx, who, None, reason)?;
        let (lifetime, at) = (app.token_lifetime(), app.now());
        let cmd = PersonCommand::IssueToken { token_id, sha256: auth::token_hash(&token), expires_at, lifetime, at };
        app.bus.execute(&app.bus.people, &pid.to_string(), cmd, &env).await?;
        let expires_at =
            app.catalog().people.get(&pid).and_then(|p| p.tokens.get(&token_id)).map(|t| t.expires(lifetime));
        Ok(IssuedToken {
            token,
            person_id: ID(pid.to_string()),
            token_id: ID(token_id.to_string()),
            expires_at: expires_at.ok_or_else(|| ApiError::NotFound(format!("person {pid} does not exist")))?,
        })
    }

    /// Revokes one of a person's tokens: ADMIN, or the person.
    async fn revoke_token(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
        token_id: ID,
        reason: Option<String>,
    ) -> Result<PersonNode> {
        let tid: TokenId = parse_id(&token_id, "tokenId")?;
        let cmd = Cmd { command_id: None, reason };
        self.person_command(ctx, &person_id, cmd, self_or_admin, |(), at| PersonCommand::RevokeToken {
            token_id: tid,
            at,
        })
        .await
    }

    /// Adds an OpenSSH public key to a person: OPS or ADMIN for anyone, or a person for themselves.
    async fn add_ssh_key(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
        public_key: String,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<SshKeyNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let pid: PersonId = parse_id(&person_id, "personId")?;
        let active = {
            let catalog = app.catalog();
            let p = visible_person(&catalog, who, pid)?;
            if !who.has_staff_role(&[Staff::Ops]) && who.person_id() != Some(pid) {
                return Err(ApiError::forbidden().into());
            }
            p.deactivated_at.is_none()
        };
        let parsed = parse_public_key(&public_key).map_err(|e| ApiError::BadInput(e.to_string()))?;
        // Every added key is a record of its own, owned by this person for ever; the
        // fingerprint is a unique name it holds while active, so nobody else can add it then
        // and nobody ever continues another's record.
        let id = SshKeyId(Uuid::new_v4());
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let cmd = SshKeyCommand::Add {
            id,
            person: domain::ssh_key::PersonFacts { id: pid, active },
            public_key,
            at: app.now(),
        };
        let guard = store::Guard {
            claims: vec![(domain::ssh_key::FINGERPRINT.to_owned(), parsed.fingerprint)],
            ..store::Guard::default()
        };
        app.bus.keys.assume_new(&id.to_string());
        let done = app.bus.execute_guarded(&app.bus.keys, &id.to_string(), cmd, &env, guard).await?;
        Ok(key_node(app, &done)?)
    }

    async fn revoke_ssh_key(
        &self,
        ctx: &Context<'_>,
        key_id: ID,
        reason: String,
        command_id: Option<ID>,
    ) -> Result<SshKeyNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let kid: SshKeyId = parse_id(&key_id, "keyId")?;
        let fingerprint = {
            let catalog = app.catalog();
            let key = catalog.keys.get(&kid);
            let owner = key.and_then(|k| k.person_id);
            let Some(owner) = owner.filter(|o| visible_person(&catalog, who, *o).is_ok()) else {
                return Err(ApiError::NotFound(format!("SSH key {kid} does not exist")).into());
            };
            if !who.has_staff_role(&[Staff::Ops]) && who.person_id() != Some(owner) {
                return Err(ApiError::forbidden().into());
            }
            key.map(|k| k.fingerprint.clone()).unwrap_or_default()
        };
        let env = envelope(ctx, who, command_id.as_ref(), Some(reason.clone()))?;
        // The store gives the fingerprint up only if this key's stream holds it.
        let guard = store::Guard {
            releases: vec![(domain::ssh_key::FINGERPRINT.to_owned(), fingerprint)],
            ..store::Guard::default()
        };
        let cmd = SshKeyCommand::Revoke { reason, at: app.now() };
        let done = app.bus.execute_guarded(&app.bus.keys, &kid.to_string(), cmd, &env, guard).await?;
        Ok(key_node(app, &done)?)
    }

    async fn create_project(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectInput,
        reason: Option<String>,
    ) -> Result<ProjectNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let (id, generated): (ProjectId, bool) = new_or(&input.id)?;
        let cid: CustomerId = parse_id(&input.customer_id, "customerId")?;
        let (customer, parent) = {
            let catalog = app.catalog();
            visible_customer(&catalog, who, cid)?;
            let closed = catalog.customers.get(&cid).is_some_and(|c| c.closed_at.is_some());
            let parent = match &input.parent_id {
                Some(p) => {
                    let pid: ProjectId = parse_id(p, "parentId")?;
                    let parent = visible_project(&catalog, who, pid)?;
                    Some(project::ParentFacts {
                        id: pid,
                        customer_id: parent.customer_id.unwrap_or(CustomerId(Uuid::nil())),
                        archived: parent.archived_at.is_some(),
                    })
                }
                None => None,
            };
            (project::CustomerFacts { id: cid, closed }, parent)
        };
        let env = envelope(ctx, who, input.command_id.as_ref(), reason)?;
        let resource_group = naming::resource_group(app.catalog().live(), input.resource_group.as_deref(), &input.name);
        let cmd = ProjectCommand::Create {
            id,
            customer,
            parent,
            name: input.name,
            sla_class: input.sla_class.into(),
            resource_group: resource_group.clone(),
            effective_at: app.effective("effectiveAt", input.effective_at)?,
        };
        let guard = Guard { claims: vec![(platform::RESOURCE_GROUP.to_owned(), resource_group)], ..Guard::default() };
        let done = app.bus.create_guarded(&app.bus.projects, (&id.to_string(), generated), cmd, &env, guard).await?;
        Ok(project_node(app, &done)?)
    }

    async fn rename_project(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        name: String,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<ProjectNode> {
        self.project_command(ctx, &project_id, Cmd { command_id, reason }, &[Staff::Ops], true, |_| {
            ProjectCommand::Rename { name }
        })
        .await
    }

    /// Lets the project's HTTP monitors reach internal addresses (loopback, private
    /// networks, link-local, …), or stops them: staff OPS only, for the platform's own
    /// projects; a customer's monitors reach public addresses only.
    async fn allow_internal_monitor_targets(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        allowed: bool,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<ProjectNode> {
        self.project_command(ctx, &project_id, Cmd { command_id, reason }, &[Staff::Ops], false, |_| {
            ProjectCommand::AllowInternalMonitorTargets { allowed }
        })
        .await
    }

    async fn change_sla_class(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        sla_class: SlaClass,
        effective_at: DateTime<Utc>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<ProjectNode> {
        let effective_at = app(ctx).effective("effectiveAt", Some(effective_at))?;
        self.project_command(ctx, &project_id, Cmd { command_id, reason }, &[Staff::Ops], false, |_| {
            ProjectCommand::ChangeSlaClass { sla_class: sla_class.into(), effective_at }
        })
        .await
    }

    async fn add_deployment(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        name: String,
        environment: String,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<ProjectNode> {
        self.project_command(ctx, &project_id, Cmd { command_id, reason }, &[Staff::Ops], true, |_| {
            ProjectCommand::AddDeployment { name, environment }
        })
        .await
    }

    async fn remove_deployment(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        name: String,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<ProjectNode> {
        self.project_command(ctx, &project_id, Cmd { command_id, reason }, &[Staff::Ops], true, |_| {
            ProjectCommand::RemoveDeployment { name }
        })
        .await
    }

    async fn archive_project(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        effective_at: Option<DateTime<Utc>>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<ProjectNode> {
        let effective_at = app(ctx).effective("effectiveAt", effective_at)?;
        self.project_command(ctx, &project_id, Cmd { command_id, reason }, &[Staff::Ops], false, |_| {
            ProjectCommand::Archive { effective_at }
        })
        .await
    }

    async fn provision_vm(&self, ctx: &Context<'_>, input: ProvisionVmInput, reason: Option<String>) -> Result<VmNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let (id, generated): (VmId, bool) = new_or(&input.id)?;
        let prid: ProjectId = parse_id(&input.project_id, "projectId")?;
        let project = vm_project_facts(&app.catalog(), who, prid)?;
        let env = envelope(ctx, who, input.command_id.as_ref(), reason)?;
        let node = vm::Node {
            hostname: naming::hostname(app.catalog().live(), input.hostname.as_deref(), &input.name),
            channel: input.channel,
            roles: input.roles.unwrap_or_default(),
            production: input.production.unwrap_or(true),
        };
        let effective_at = app.effective("effectiveAt", Some(input.effective_at))?;
        let (location, now) = (input.location.trim().to_owned(), app.now());
        // Its addresses come with it, in the append that claims its host name.
        let propose = |reserved: &_| {
            let plan = addresses::plan(app.catalog().live(), id, &location, &Default::default(), now, reserved)?;
            let mut claims = vec![(platform::HOSTNAME.to_owned(), node.hostname.clone())];
            claims.extend(addresses::claims(&plan, &Default::default()));
            Ok((plan, Guard { claims, ..Guard::default() }))
        };
        let provision = |addresses, guard| {
            let cmd = VmCommand::Provision {
                id,
                project: project.clone(),
                name: input.name.clone(),
                location: location.clone(),
                cpu: input.cpu.into(),
                ram_gb: input.ram_gb.into(),
                disk_gb: input.disk_gb.into(),
                node: node.clone(),
                effective_at,
                addresses,
            };
            let env = &env;
            async move { app.bus.create_guarded(&app.bus.vms, (&id.to_string(), generated), cmd, env, guard).await }
        };
        let done = addresses::allocating(&app.bus, &env, now, propose, provision).await?;
        Ok(vm_node(app, &done)?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn resize_vm(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        cpu: i32,
        ram_gb: i32,
        disk_gb: i32,
        effective_at: DateTime<Utc>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<VmNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let id: VmId = parse_id(&vm_id, "vmId")?;
        visible_vm(&app.catalog(), who, id)?;
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let effective_at = app.effective("effectiveAt", Some(effective_at))?;
        let cmd = VmCommand::Resize { cpu: cpu.into(), ram_gb: ram_gb.into(), disk_gb: disk_gb.into(), effective_at };
        let done = app.bus.execute(&app.bus.vms, &id.to_string(), cmd, &env).await?;
        Ok(vm_node(app, &done)?)
    }

    async fn move_vm(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        project_id: ID,
        effective_at: DateTime<Utc>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<VmNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let id: VmId = parse_id(&vm_id, "vmId")?;
        let prid: ProjectId = parse_id(&project_id, "projectId")?;
        let project = {
            let catalog = app.catalog();
            visible_vm(&catalog, who, id)?;
            vm_project_facts(&catalog, who, prid)?
        };
        let effective_at = app.effective("effectiveAt", Some(effective_at))?;
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let done = app
            .bus
            .execute(&app.bus.vms, &id.to_string(), VmCommand::MoveToProject { project, effective_at }, &env)
            .await?;
        Ok(vm_node(app, &done)?)
    }

    async fn decommission_vm(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        effective_at: DateTime<Utc>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<VmNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let id: VmId = parse_id(&vm_id, "vmId")?;
        visible_vm(&app.catalog(), who, id)?;
        let effective_at = app.effective("effectiveAt", Some(effective_at))?;
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let done =
            app.bus.execute(&app.bus.vms, &id.to_string(), VmCommand::Decommission { effective_at }, &env).await?;
        Ok(vm_node(app, &done)?)
    }

    async fn record_backup(
        &self,
        ctx: &Context<'_>,
        input: RecordBackupInput,
        reason: Option<String>,
    ) -> Result<BackupNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let id: VmId = parse_id(&input.vm_id, "vmId")?;
        let vm = {
            let catalog = app.catalog();
            let v = visible_vm(&catalog, who, id)?;
            VmFacts {
                id,
                provisioned_at: v.provisioned_at().unwrap_or_default(),
                decommissioned_at: v.decommissioned_at,
            }
        };
        let env = envelope(ctx, who, input.command_id.as_ref(), reason)?;
        let backup_id = input.backup_id.trim().to_owned();
        let cmd = BackupLogCommand::Record {
            vm,
            backup_id: input.backup_id,
            status: input.status.into(),
            started_at: input.started_at,
            finished_at: input.finished_at,
            size_bytes: input.size_bytes.map(|l| l.0),
            tags: input.tags.unwrap_or_default(),
            error: input.error,
        };
        let done = app.bus.execute(&app.bus.backups, &id.to_string(), cmd, &env).await?;
        Ok(backup_node(app, &done, &backup_id).await?)
    }

    async fn expire_backup(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        backup_id: String,
        at: DateTime<Utc>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<BackupNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let id: VmId = parse_id(&vm_id, "vmId")?;
        visible_vm(&app.catalog(), who, id)?;
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let cmd = BackupLogCommand::Expire { backup_id: backup_id.clone(), at };
        let done = app.bus.execute(&app.bus.backups, &id.to_string(), cmd, &env).await?;
        Ok(backup_node(app, &done, &backup_id).await?)
    }
}

/// A mutation's identity for idempotency and attribution.
/// (The command's name and arguments come from the request itself, see [`super::envelope`].)
pub(super) struct Cmd {
    pub command_id: Option<ID>,
    pub reason: Option<String>,
}

impl CoreMutation {
    /// The shared path of the person mutations: the person must be visible, `check` decides
    /// whether the caller may (and gathers the facts the command needs), then the command
    /// runs and the person's new state is the answer.
    async fn person_command<F>(
        &self,
        ctx: &Context<'_>,
        person_id: &ID,
        cmd: Cmd,
        check: impl FnOnce(&Catalog, &Principal, &person::Person) -> Result<F, ApiError>,
        command: impl FnOnce(F, domain::Instant) -> PersonCommand,
    ) -> Result<PersonNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let pid: PersonId = parse_id(person_id, "personId")?;
        let facts = {
            let catalog = app.catalog();
            let person = visible_person(&catalog, who, pid)?;
            check(&catalog, who, person)?
        };
        let env = envelope(ctx, who, cmd.command_id.as_ref(), cmd.reason)?;
        let done = app.bus.execute(&app.bus.people, &pid.to_string(), command(facts, app.now()), &env).await?;
        Ok(person_node(app, &done)?)
    }

    /// The shared path of the project mutations: visibility, roles (staff with `roles`, or
    /// the project's customer managers when `managers` is true), the command, the answer.
    async fn project_command(
        &self,
        ctx: &Context<'_>,
        project_id: &ID,
        cmd: Cmd,
        roles: &[Staff],
        managers: bool,
        command: impl FnOnce(domain::Instant) -> ProjectCommand,
    ) -> Result<ProjectNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let id: ProjectId = parse_id(project_id, "projectId")?;
        {
            let catalog = app.catalog();
            visible_project(&catalog, who, id)?;
            if managers { may_manage(&catalog, who, id, roles)? } else { who.require(roles)? }
        }
        let env = envelope(ctx, who, cmd.command_id.as_ref(), cmd.reason)?;
        let done = app.bus.execute(&app.bus.projects, &id.to_string(), command(app.now()), &env).await?;
        Ok(project_node(app, &done)?)
    }
}

fn vm_project_facts(catalog: &Catalog, who: &Principal, id: ProjectId) -> Result<vm::ProjectFacts, ApiError> {
    let p = visible_project(catalog, who, id)?;
    Ok(vm::ProjectFacts {
        id,
        customer_id: p.customer_id.unwrap_or(CustomerId(Uuid::nil())),
        created_at: p.created_at.unwrap_or_default(),
        archived_at: p.archived_at,
    })
}

/// The backup as the command left it (a retry: as its first application did).
async fn backup_node(app: &AppState, done: &Executed, backup_id: &str) -> Result<BackupNode, ApiError> {
    let vm: VmId = parsed(done.aggregate_id())?;
    let position = done.answered_at().unwrap_or(i64::MAX);
    let backups = app.backups_of(vm, position, &app::state::LogReads::default()).await?;
    // The backup asked for is nearly always the one just recorded.
    backups
        .into_iter()
        .rev()
        .find(|b| b.backup_id == backup_id)
        .map(BackupNode)
        .ok_or_else(|| ApiError::NotFound(format!("backup {backup_id:?} of VM {vm} does not exist")))
}
