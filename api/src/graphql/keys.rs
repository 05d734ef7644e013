//! Who may decrypt each deployment's secrets, and which deployments wait for re-keying.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::ProjectId;
use domain::person::StaffRole as Staff;
use domain::project::ProjectCommand;
use projections::At;

use super::types::SshKeyNode;
use super::{answered, app, envelope, parse_id, principal, view};
use app::error::ApiError;
use app::policy::{may_manage, may_see_key_list, visible_project};

#[derive(SimpleObject)]
pub struct SecretsRecipients {
    pub project_id: ID,
    pub deployment: String,
    /// The active keys that may decrypt the secrets, by fingerprint.
    pub recipients: Vec<SshKeyNode>,
    pub rekey_required: bool,
    /// Each key that left the set since the secrets were last encrypted, and why.
    pub rekey_reasons: Vec<String>,
}

pub fn recipients(at: At<'_>, project: ProjectId, deployment: &str) -> Option<SecretsRecipients> {
    let access = at.access(project, deployment)?;
    Some(SecretsRecipients {
        project_id: ID(project.to_string()),
        deployment: deployment.to_owned(),
        recipients: access.recipients.iter().map(|r| SshKeyNode(r.id, r.key.clone())).collect(),
        rekey_required: !access.rekey_reasons.is_empty(),
        rekey_reasons: access.rekey_reasons,
    })
}

#[derive(Default)]
pub struct KeysQuery;

#[Object]
impl KeysQuery {
    /// The recipients of a deployment's secrets; with `asOf`, as recorded then.
    async fn secrets_recipients(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        deployment: String,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<SecretsRecipients> {
        let who = principal(ctx)?;
        let id: ProjectId = parse_id(&project_id, "projectId")?;
        let view = view(ctx, as_of).await?;
        let found = view.with(app(ctx), |at| {
            if may_see_key_list(at, who, id) { recipients(at, id, deployment.trim()) } else { None }
        });
        Ok(found.ok_or_else(|| ApiError::NotFound(format!("no deployment {:?} in project {id}", deployment.trim())))?)
    }

    /// Every deployment whose secrets must be re-encrypted because a key left its set (staff).
    async fn rekey_required(&self, ctx: &Context<'_>) -> Result<Vec<SecretsRecipients>> {
        let who = principal(ctx)?;
        if !who.is_staff() {
            return Err(ApiError::forbidden().into());
        }
        let catalog = app(ctx).catalog();
        let at = catalog.live();
        Ok(at
            .projects()
            .flat_map(|(id, p)| p.deployments.keys().map(move |d| (*id, d.clone())))
            .filter_map(|(id, d)| recipients(at, id, &d))
            .filter(|r| r.rekey_required)
            .collect())
    }
}

#[derive(Default)]
pub struct KeysMutation;

#[Object]
impl KeysMutation {
    /// Records that the deployment's secrets were re-encrypted to its current recipients,
    /// which clears its re-keying flag (staff OPS, or a manager of the project).
    async fn mark_secrets_rekeyed(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        deployment: String,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<SecretsRecipients> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let id: ProjectId = parse_id(&project_id, "projectId")?;
        {
            let catalog = app.catalog();
            visible_project(&catalog, who, id)?;
            may_manage(&catalog, who, id, &[Staff::Ops])?;
        }
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let cmd = ProjectCommand::MarkSecretsRekeyed { deployment: deployment.clone(), at: app.now() };
        let done = app.bus.execute(&app.bus.projects, &id.to_string(), cmd, &env).await?;
        let found = answered(&done).with(app, |at| recipients(at, id, deployment.trim()));
        Ok(found.ok_or_else(|| ApiError::NotFound(format!("no deployment {deployment:?} in project {id}")))?)
    }
}
