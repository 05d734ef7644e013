//! Entity ids: UUIDs, chosen by the caller (API or fixtures), never generated here.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                $name(id)
            }
        }
    };
}

id_type!(
    /// A customer of the hosting company.
    CustomerId
);
id_type!(
    /// A person: staff, or a user of one customer.
    PersonId
);
id_type!(
    /// A project; projects of one customer form a tree.
    ProjectId
);
id_type!(
    /// A virtual machine; its backup log shares this id.
    VmId
);
id_type!(
    /// An SSH public key, one stream per fingerprint.
    SshKeyId
);
id_type!(
    /// An API token of a person (its hash is stored, never its text).
    TokenId
);
id_type!(
    /// An HTTP monitor of a project.
    MonitorId
);
id_type!(
    /// A maintenance window, for one project or the whole platform.
    MaintenanceId
);
id_type!(
    /// A platform release of one channel in one ISO week.
    ReleaseId
);
id_type!(
    /// An invoice or a cancellation invoice.
    InvoiceId
);
id_type!(
    /// The scheduled billing run of one period.
    BillingRunId
);
