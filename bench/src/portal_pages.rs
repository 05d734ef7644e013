//! The portal's pages as the benchmarks ask them. The API's tests include this file
//! (`#[path]`) and check that each is a query the portal's script really sends.

/// The portal's project page (`app.js`, `project`).
pub const PROJECT_PAGE: &str = "query($p: ID!, $t: DateTime) { infrastructureOverview(projectId: $p, asOf: $t) {
    project { id name slaClass deployments { name environment } }
    vmCount totalCpu totalRamGb totalDiskGb
    vms { id name location cpu ramGb diskGb lastGoodBackupAt }
    monitors { id url state lastTransitionAt }
    backupHealth { vm { id name } lastGoodBackupAt failuresLast7Days stale }
    access { name sshKeys { fingerprint algorithm revokedAt usableForSecrets unusableForSecretsReason } }
    upcomingMaintenance { start end reason projectId } }
    releases(asOf: $t) { channel isoWeek windowStart state } }";

/// The portal's customer page (`app.js`, `customer`).
pub const CUSTOMER_PAGE: &str = "query($c: ID!, $t: DateTime) {
    customer(id: $c, asOf: $t) { id name country vatId billingAddress
      projects { id name parentId archived }
      people { id name email roles { projectId role } sshKeys { fingerprint revokedAt } } }
    invoices(customerId: $c, asOf: $t) { id number kind period gross cancelled pdfUrl } }";
