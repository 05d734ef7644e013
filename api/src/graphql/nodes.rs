//! The platform's nodes (fc-compat.md): what staff set for a VM's machine (its roles and
//! node API ring), the networks VMs get their addresses from, and the node API
//! credentials, which are derived, never stored, and shown only to staff OPS, each
//! showing recorded.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::VmId;
use domain::network::NetworkCommand;
use domain::person::StaffRole as Staff;
use domain::vm::VmCommand;

use super::mutation::vm_node;
use super::types::VmNode;
use super::{app, envelope, parse_id, principal, view};
use app::commands::Executed;
use app::error::ApiError;
use app::policy::visible_vm;
use app::state::AppState;

/// What a VM's agents log in to the node API with.
#[derive(SimpleObject)]
pub struct NodeCredentials {
    pub vm_id: ID,
    /// The HTTP Basic user name.
    pub hostname: String,
    pub password: String,
    /// 1: its resource group's path (`/v2/api/rg-<name>`); 0: the whole platform (`/v2/api`).
    pub ring: u8,
}

/// The credentials as the command left the VM (a retry: as its first application did).
fn credentials(app: &AppState, done: &Executed) -> Result<NodeCredentials, ApiError> {
    let node = vm_node(app, done)?;
    let hostname = node.vm.node.as_ref().map(|n| n.hostname.clone()).unwrap_or_default();
    Ok(NodeCredentials {
        vm_id: ID(node.id.to_string()),
        password: app.node_key().node_password(node.id, node.vm.password_generation),
        hostname,
        ring: node.vm.directory_ring,
    })
}

/// An IP network of a VLAN in a location.
#[derive(SimpleObject)]
pub struct Network {
    pub location: String,
    pub vlan: String,
    pub cidr: String,
    pub gateway: String,
}

impl From<&domain::network::Network> for Network {
    fn from(n: &domain::network::Network) -> Network {
        Network {
            location: n.location.clone(),
            vlan: n.vlan.clone(),
            cidr: n.cidr.to_string(),
            gateway: n.gateway.to_string(),
        }
    }
}

#[derive(Default)]
pub struct NodesQuery;

#[Object]
impl NodesQuery {
    /// The networks VMs get their addresses from, in the order defined; of one location
    /// if given (staff and auditors).
    async fn networks(
        &self,
        ctx: &Context<'_>,
        location: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<Network>> {
        let who = principal(ctx)?;
        if !who.is_staff() {
            return Err(ApiError::staff_only().into());
        }
        let view = view(ctx, as_of).await?;
        let location = location.as_deref().map(str::trim);
        Ok(view.with(app(ctx), |at| {
            at.networks().filter(|n| location.is_none_or(|l| n.location == l)).map(Network::from).collect()
        }))
    }

    /// The VM's node API credentials (staff OPS). Every showing is recorded in the VM's
    /// history with who saw them, so this read appends an event.
    async fn node_credentials(&self, ctx: &Context<'_>, vm_id: ID) -> Result<NodeCredentials> {
        let done = vm_command(ctx, &vm_id, &[Staff::Ops], (None, None), VmCommand::ShowNodeCredentials).await?;
        Ok(credentials(app(ctx), &done)?)
    }
}

#[derive(Default)]
pub struct NodesMutation;

#[Object]
impl NodesMutation {
    /// Defines an IPv4 or IPv6 network of a VLAN in a location (staff OPS). Every VM there
    /// gets an address in it (the oldest the lowest), as does every VM provisioned there
    /// later; refused when it has too few addresses for the VMs there. Sent again, it gives
    /// the addresses any VM there still lacks.
    #[allow(clippy::too_many_arguments)]
    async fn define_network(
        &self,
        ctx: &Context<'_>,
        location: String,
        vlan: String,
        cidr: String,
        gateway: String,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<Network> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let network = domain::network::network(&location, &vlan, &cidr, &gateway)
            .map_err(|e| ApiError::BadInput(e.to_string()))?;
        let command = NetworkCommand::Define { location, vlan, cidr, gateway };
        app::addresses::define_network(&app.bus, &env, app.now(), command).await?;
        Ok(Network::from(&network))
    }

    /// Sets the VM's platform roles (`webgateway`, `postgresql15`, …; staff OPS).
    async fn set_vm_roles(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        roles: Vec<String>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<VmNode> {
        let done = vm_command(ctx, &vm_id, &[Staff::Ops], (command_id, reason), VmCommand::SetRoles { roles }).await?;
        Ok(vm_node(app(ctx), &done)?)
    }

    /// Which node API ring the VM's credentials reach: 1 (its resource group; staff OPS) or
    /// 0 (the whole platform, for infrastructure machines; ADMIN only).
    async fn set_directory_ring(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        ring: i32,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<VmNode> {
        let roles: &[Staff] = if ring == 0 { &[] } else { &[Staff::Ops] };
        let command = VmCommand::SetDirectoryRing { ring: ring.into() };
        let done = vm_command(ctx, &vm_id, roles, (command_id, reason), command).await?;
        Ok(vm_node(app(ctx), &done)?)
    }

    /// A new node API password for the VM (staff OPS); the old one stops working at once.
    async fn rotate_node_password(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<NodeCredentials> {
        let command = VmCommand::RotateNodePassword;
        let done = vm_command(ctx, &vm_id, &[Staff::Ops], (command_id, reason), command).await?;
        Ok(credentials(app(ctx), &done)?)
    }
}

/// The shared path of the node settings: the roles, the VM (NOT_FOUND when not visible),
/// the command.
async fn vm_command(
    ctx: &Context<'_>,
    vm_id: &ID,
    roles: &[Staff],
    (command_id, reason): (Option<ID>, Option<String>),
    command: VmCommand,
) -> Result<Executed, ApiError> {
    let (app, who) = (app(ctx), principal(ctx)?);
    who.require(roles)?;
    let id: VmId = parse_id(vm_id, "vmId")?;
    visible_vm(&app.catalog(), who, id)?;
    let env = envelope(ctx, who, command_id.as_ref(), reason)?;
    app.bus.execute(&app.bus.vms, &id.to_string(), command, &env).await
}
