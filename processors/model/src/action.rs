//! Action commands (`actions` topic, key = exception id).
//!
//! An action asks a downstream system to do something; it is a request, never a fact. The
//! action id is deterministic (exception id, type, attempt) and doubles as the idempotency
//! key and the CloudEvents `id`: a connector that sees the same id twice must act once.
//! A STOCK_ADJUSTMENT always names the approval decision it follows in `approval_ref`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ActionId, ExceptionId};

/// Action catalogue (domain research section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionType {
    /// Count a location again.
    RecountTask,
    /// Block stock.
    InventoryHold,
    /// Release blocked stock (quality releases need approval).
    ReleaseHold,
    /// Open a case with the supplier or carrier.
    SupplierCase,
    /// Change a document's status in the ERP.
    ErpStatusUpdate,
    /// Tell customer service an order is at risk.
    CustomerServiceNotification,
    /// Escalate a breached SLA.
    Escalation,
    /// Ask a person to approve an adjustment.
    ApprovalRequest,
    /// Post an approved stock adjustment.
    StockAdjustment,
    /// Open an IT incident or request a resync.
    ItIncident,
    /// Ask quality to review a lot.
    QualityReview,
}

impl ActionType {
    /// The symbol (`RECOUNT_TASK`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RecountTask => "RECOUNT_TASK",
            Self::InventoryHold => "INVENTORY_HOLD",
            Self::ReleaseHold => "RELEASE_HOLD",
            Self::SupplierCase => "SUPPLIER_CASE",
            Self::ErpStatusUpdate => "ERP_STATUS_UPDATE",
            Self::CustomerServiceNotification => "CUSTOMER_SERVICE_NOTIFICATION",
            Self::Escalation => "ESCALATION",
            Self::ApprovalRequest => "APPROVAL_REQUEST",
            Self::StockAdjustment => "STOCK_ADJUSTMENT",
            Self::ItIncident => "IT_INCIDENT",
            Self::QualityReview => "QUALITY_REVIEW",
        }
    }

    /// CloudEvents `type`, e.g. `com.invex.recount_task.requested.v1`.
    pub fn cloudevents_type(self) -> String {
        format!("com.invex.{}.requested.v1", self.as_str().to_ascii_lowercase())
    }
}

/// Who asked for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestedBy {
    /// A detector rule.
    Rule,
    /// A person, through a decision on `approvals`.
    User,
}

/// One action command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionCommand {
    /// Deterministic id; idempotency key; CloudEvents `id`.
    pub action_id: ActionId,
    /// What to do.
    pub action_type: ActionType,
    /// Exception it serves; CloudEvents `subject`.
    pub exception_id: ExceptionId,
    /// 1 for the first action of this type on this exception, then 2, 3, ...
    pub attempt: i32,
    /// Tenant.
    pub tenant_id: String,
    /// Site.
    pub site_id: String,
    /// Location concerned.
    pub location_id: Option<String>,
    /// SKU concerned.
    pub sku: String,
    /// Lot concerned.
    pub lot: Option<String>,
    /// Signed quantity (the adjustment for STOCK_ADJUSTMENT, the variance otherwise).
    pub quantity: Option<i64>,
    /// Unit of measure of `quantity`.
    pub uom: Option<String>,
    /// Money at stake.
    pub value: Option<f64>,
    /// Currency of `value`.
    pub currency: Option<String>,
    /// Reason code (EDIFACT 4499 / SAP movement reason for adjustments).
    pub reason_code: Option<String>,
    /// Id of the approval decision's event (mandatory for STOCK_ADJUSTMENT).
    pub approval_ref: Option<String>,
    /// Approval tier asked for (APPROVAL_REQUEST).
    pub approval_tier: Option<String>,
    /// Team or group that should act.
    pub target_group: String,
    /// 1 highest to 5 lowest.
    pub priority: i32,
    /// When it should be done by (UTC ms).
    pub due_at: Option<i64>,
    /// Rule or user that asked.
    pub requested_by: RequestedBy,
    /// Rule id that produced it.
    pub rule_id: String,
    /// Policy version in force.
    pub policy_version: String,
    /// Event time of the decision that produced it; CloudEvents `time`.
    pub created_at: i64,
    /// Further type-specific attributes.
    pub details: BTreeMap<String, String>,
}
