//! Canonical warehouse events, one type per canonical topic.
//!
//! Every event carries an [`EventHeader`] modelled on EPCIS 2.0 (what/when/where/why plus the
//! transport fields EPCIS leaves out: source system, per-producer sequence, operator, device).
//! Stock events carry lot, expiry and serials as first-class fields and always name their unit
//! of measure. One record is about one SKU: multi-line documents (a receipt with many lines) are
//! split by the normalize step, so that the record's key (`tenant|site|sku`) is well defined.

use serde::{Deserialize, Serialize};

/// EPCIS-style header shared by every canonical event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventHeader {
    /// Producer-assigned unique id (a UUID or EPCIS hash id); the dedupe key.
    pub event_id: String,
    /// When it happened in the warehouse (UTC ms).
    pub event_time: i64,
    /// Local offset of the site at `event_time`, e.g. `+01:00` (EPCIS `eventTimeZoneOffset`).
    pub event_tz_offset: String,
    /// When the producing system recorded it (UTC ms); bookkeeping, not a fact.
    pub record_time: i64,
    /// Tenant owning the stock.
    pub tenant_id: String,
    /// Site (warehouse) where it happened.
    pub site_id: String,
    /// System that produced the event.
    pub source_system: SourceSystem,
    /// Per-producer sequence number, for gap and reorder detection.
    pub source_seq: i64,
    /// Operator (user) who did it, when known.
    pub operator_id: Option<String>,
    /// Device (scanner, terminal) it came from, when known.
    pub device_id: Option<String>,
    /// EPCIS action.
    pub action: EpcisAction,
    /// CBV business step short name (`receiving`, `storing`, `picking`, `cycle_counting`, ...).
    pub biz_step: String,
    /// CBV disposition short name (`active`, `damaged`, `non_sellable_other`, ...).
    pub disposition: Option<String>,
    /// Present when this event corrects earlier ones (EPCIS `errorDeclaration`).
    pub error_declaration: Option<ErrorDeclaration>,
}

/// System that produced an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SourceSystem {
    /// Warehouse management system.
    Wms,
    /// Enterprise resource planning (the financial book of stock).
    Erp,
    /// Edge devices: scanners, RFID portals, sensors.
    Edge,
    /// Order management system.
    Oms,
    /// A person deciding through an approval tool.
    Human,
    /// The invex simulator.
    Simulator,
}

/// EPCIS `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EpcisAction {
    /// Objects enter the tracked scope.
    Add,
    /// Objects seen, no lifecycle change.
    Observe,
    /// Objects leave the tracked scope.
    Delete,
}

/// Correction of earlier events by appending, never mutating (EPCIS `errorDeclaration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDeclaration {
    /// `did_not_occur` or `incorrect_data`.
    pub reason: String,
    /// Ids of the events this one corrects.
    pub corrects_event_ids: Vec<String>,
}

/// Result of decoding a barcode at a scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanResult {
    /// Decoded and matched the expectation (or there was none).
    Ok,
    /// The scanner could not read the barcode.
    NoRead,
    /// Decoded but differs from what the task expected.
    Mismatch,
    /// Decoded to an item the master data does not know.
    UnknownItem,
}

/// A barcode or RFID read (`wh.scan`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanEvent {
    /// Common header.
    pub header: EventHeader,
    /// The raw barcode text as read.
    pub raw_barcode: String,
    /// Symbology (`GS1-128`, `DATAMATRIX`, `EAN13`, `RFID`, ...).
    pub symbology: Option<String>,
    /// SKU the barcode resolved to.
    pub sku: String,
    /// GTIN parsed from the barcode.
    pub gtin: Option<String>,
    /// SSCC (logistic unit) parsed from the barcode.
    pub sscc: Option<String>,
    /// Licence plate number.
    pub lpn: Option<String>,
    /// Lot or batch parsed from the barcode.
    pub lot: Option<String>,
    /// Expiry date parsed from the barcode (days since epoch).
    pub expiry_date: Option<i32>,
    /// Serial number parsed from the barcode.
    pub serial: Option<String>,
    /// Location where the scan happened.
    pub location_id: String,
    /// Quantity the scan confirms.
    pub quantity: i64,
    /// Unit of measure of `quantity`.
    pub uom: String,
    /// Decode result.
    pub scan_result: ScanResult,
    /// Task the scan belongs to.
    pub task_id: Option<String>,
    /// Kind of that task (`PICK`, `PUTAWAY`, `COUNT`, `RECEIPT`).
    pub task_type: Option<String>,
    /// GTIN the task expected.
    pub expected_gtin: Option<String>,
    /// Lot the task expected.
    pub expected_lot: Option<String>,
    /// Location the task expected.
    pub expected_location_id: Option<String>,
}

/// GS1 receiving condition of a received line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConditionCode {
    /// Accepted in full, good condition.
    Good,
    /// Damaged product or container.
    Damaged,
    /// Wrong product delivered.
    IncorrectProduct,
    /// Quality problem found at inspection.
    QualityProblem,
    /// Rejected at the dock.
    Rejected,
}

/// Stock type (SAP stock category).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StockType {
    /// Free to use.
    Unrestricted,
    /// In quality inspection.
    QualityInspection,
    /// Blocked.
    Blocked,
}

/// One received line of one SKU (`wh.receipt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptLine {
    /// Common header.
    pub header: EventHeader,
    /// Receipt document id.
    pub receipt_id: String,
    /// Line number within the receipt.
    pub line_no: i32,
    /// Advance shipping notice (`desadv`) it was received against.
    pub asn_id: Option<String>,
    /// Purchase order.
    pub po_id: Option<String>,
    /// Purchase order line.
    pub po_line: Option<i32>,
    /// Supplier (EPCIS owning party of the source).
    pub supplier_id: Option<String>,
    /// Carrier that delivered.
    pub carrier_id: Option<String>,
    /// SKU received.
    pub sku: String,
    /// GTIN received.
    pub gtin: Option<String>,
    /// Lot received.
    pub lot: Option<String>,
    /// Expiry of the lot (days since epoch).
    pub expiry_date: Option<i32>,
    /// Serial numbers received.
    pub serials: Vec<String>,
    /// Receiving location (dock door, staging lane).
    pub location_id: String,
    /// Quantity physically received.
    pub qty_received: i64,
    /// Quantity accepted into stock.
    pub qty_accepted: i64,
    /// Unit of measure of the quantities.
    pub uom: String,
    /// Receiving condition.
    pub condition_code: ConditionCode,
    /// Stock type the accepted quantity is posted to.
    pub stock_type: StockType,
    /// Licence plate the goods were received on.
    pub lpn: Option<String>,
    /// True on the last line event of a receipt: the receipt is closed.
    pub receipt_closed: bool,
}

/// Kind of warehouse task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskType {
    /// From the receiving location into storage.
    Putaway,
    /// From reserve storage to a pick face.
    Replenishment,
    /// Any other internal move.
    Move,
}

/// Status of a warehouse task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Created, not yet done.
    Created,
    /// Confirmed by the operator: the stock moved.
    Confirmed,
    /// Cancelled.
    Cancelled,
}

/// A putaway, replenishment or move task (`wh.task`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// Common header.
    pub header: EventHeader,
    /// Task id.
    pub task_id: String,
    /// Task kind.
    pub task_type: TaskType,
    /// Task status this event reports.
    pub status: TaskStatus,
    /// SKU moved.
    pub sku: String,
    /// Lot moved.
    pub lot: Option<String>,
    /// Quantity moved.
    pub quantity: i64,
    /// Unit of measure.
    pub uom: String,
    /// Source location.
    pub from_location_id: String,
    /// Location the WMS suggested.
    pub suggested_location_id: Option<String>,
    /// Location the operator confirmed (set when `status` is `CONFIRMED`).
    pub actual_location_id: Option<String>,
    /// Reason the operator gave for confirming elsewhere than suggested.
    pub override_reason: Option<String>,
    /// Licence plate moved.
    pub lpn: Option<String>,
}

/// A pick confirmation (`wh.pick`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PickEvent {
    /// Common header.
    pub header: EventHeader,
    /// Pick task id.
    pub pick_task_id: String,
    /// Customer order.
    pub order_id: String,
    /// Customer order line.
    pub order_line: i32,
    /// Allocation the pick fulfils.
    pub allocation_id: Option<String>,
    /// Location picked from.
    pub location_id: String,
    /// SKU picked.
    pub sku: String,
    /// Lot picked.
    pub lot: Option<String>,
    /// Serials picked.
    pub serials: Vec<String>,
    /// Quantity the task asked for.
    pub qty_requested: i64,
    /// Quantity confirmed picked.
    pub qty_picked: i64,
    /// Unit of measure.
    pub uom: String,
    /// Reason given for a short pick.
    pub short_reason: Option<String>,
    /// How the pick was confirmed (`SCAN`, `VOICE`, `LIGHT`).
    pub confirm_method: String,
}

/// Kind of count (Google TI WMS vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CountType {
    /// Scheduled by ABC class.
    Abc,
    /// Requested on demand (a recount task is one).
    Demand,
    /// Triggered by a location running near zero.
    NearZero,
    /// Confirming an empty location.
    EmptyLocation,
}

/// A counted quantity of one SKU/lot at one location (`wh.count`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountEvent {
    /// Common header; `event_time` is when the count was taken.
    pub header: EventHeader,
    /// Count document id.
    pub count_doc_id: String,
    /// Kind of count.
    pub count_type: CountType,
    /// 1 for the first count, 2 and up for recounts.
    pub count_seq: i32,
    /// Whether the counter saw the book quantity.
    pub blind: bool,
    /// Location counted.
    pub location_id: String,
    /// SKU counted.
    pub sku: String,
    /// Lot counted.
    pub lot: Option<String>,
    /// Quantity counted.
    pub counted_qty: i64,
    /// Unit of measure.
    pub uom: String,
    /// Book quantity the WMS froze for this count, when it reports one.
    pub wms_book_qty_at_freeze: Option<i64>,
    /// When the book was frozen (UTC ms).
    pub freeze_time: i64,
    /// Counter.
    pub counter_id: Option<String>,
}

/// Lot the supplier announced on an ASN line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedLot {
    /// Lot or batch.
    pub lot: String,
    /// Expiry (days since epoch).
    pub expiry_date: Option<i32>,
    /// Quantity of that lot.
    pub quantity: i64,
}

/// One line of an advance shipping notice or open PO line (`erp.asn`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsnLine {
    /// Common header.
    pub header: EventHeader,
    /// ASN id (`desadv`).
    pub asn_id: String,
    /// Purchase order.
    pub po_id: String,
    /// Line number.
    pub line_no: i32,
    /// Supplier.
    pub supplier_id: String,
    /// SKU announced.
    pub sku: String,
    /// GTIN announced.
    pub gtin: Option<String>,
    /// Quantity expected.
    pub qty_expected: i64,
    /// Unit of measure.
    pub uom: String,
    /// Lots announced.
    pub expected_lots: Vec<ExpectedLot>,
    /// Logistic units announced.
    pub ssccs: Vec<String>,
    /// Under-delivery tolerance in percent.
    pub under_tolerance_pct: Option<f64>,
    /// Over-delivery tolerance in percent.
    pub over_tolerance_pct: Option<f64>,
    /// Over-delivery accepted without limit.
    pub unlimited_over: bool,
    /// Minimum remaining shelf life at receipt, in days.
    pub min_remaining_shelf_life_days: Option<i32>,
    /// Expected arrival (UTC ms).
    pub eta: Option<i64>,
}

/// The ERP's book quantity of one SKU/lot at one location at a point in time (`erp.book`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookSnapshot {
    /// Common header; `event_time` is the `as of` time of the snapshot.
    pub header: EventHeader,
    /// Snapshot run id.
    pub snapshot_id: String,
    /// Location (bin) the quantity is booked at.
    pub location_id: String,
    /// SKU.
    pub sku: String,
    /// Lot.
    pub lot: Option<String>,
    /// Stock type.
    pub stock_type: StockType,
    /// Book quantity.
    pub quantity: i64,
    /// Unit of measure.
    pub uom: String,
    /// Standard or moving average cost of one unit.
    pub unit_cost: f64,
    /// ISO 4217 currency of `unit_cost`.
    pub currency: String,
}

/// An order line's allocation against stock (`oms.allocation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderAllocation {
    /// Common header.
    pub header: EventHeader,
    /// Allocation id.
    pub allocation_id: String,
    /// Customer order.
    pub order_id: String,
    /// Order line.
    pub order_line: i32,
    /// Sales channel.
    pub channel: Option<String>,
    /// SKU allocated.
    pub sku: String,
    /// Location allocated from.
    pub location_id: Option<String>,
    /// Lot allocated.
    pub lot: Option<String>,
    /// Quantity ordered.
    pub qty_ordered: i64,
    /// Quantity allocated.
    pub qty_allocated: i64,
    /// Unit of measure.
    pub uom: String,
    /// Order status (`CREATED`, `PLANNED`, `RELEASED`, `PICKED`, ..., `HOLD`, `CANCELLED`).
    pub status: String,
    /// Promised ship date (UTC ms).
    pub promised_ship_time: Option<i64>,
}

/// Status of an integration message between WMS and ERP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AckStatus {
    /// Sent, not yet acknowledged.
    Sent,
    /// Acknowledged by the receiver.
    Ack,
    /// Rejected by the receiver.
    Error,
    /// Being retried.
    Retrying,
}

/// Acknowledgement of a WMS posting by the ERP, or its failure (`integration.ack`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationAck {
    /// Common header.
    pub header: EventHeader,
    /// Integration message id.
    pub message_id: String,
    /// `WMS_TO_ERP` or `ERP_TO_WMS`.
    pub direction: String,
    /// Document type (`GR`, `GI`, `ADJ`, `TRANSFER`).
    pub doc_type: String,
    /// SKU the message is about.
    pub sku: String,
    /// Quantity the message posts (signed).
    pub quantity: i64,
    /// Canonical events the message carries.
    pub related_event_ids: Vec<String>,
    /// Status.
    pub status: AckStatus,
    /// Receiver's error code.
    pub error_code: Option<String>,
    /// Attempt number.
    pub attempt: i32,
}

/// Item master data for one SKU at one site (`md.item`, compacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemMaster {
    /// Common header.
    pub header: EventHeader,
    /// SKU.
    pub sku: String,
    /// GTINs that identify the SKU.
    pub gtins: Vec<String>,
    /// Base unit of measure.
    pub base_uom: String,
    /// Units of the base UoM in one case.
    pub case_pack: Option<i64>,
    /// ABC class (`A`, `B`, `C`).
    pub abc_class: String,
    /// Cost of one base unit.
    pub unit_cost: f64,
    /// Currency of `unit_cost`.
    pub currency: String,
    /// Lot-controlled.
    pub lot_controlled: bool,
    /// Serial-controlled.
    pub serial_controlled: bool,
    /// Minimum remaining shelf life at receipt, in days.
    pub min_remaining_shelf_life_days: Option<i32>,
}

/// A human verdict on an exception or approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApprovalVerdict {
    /// Approve the requested adjustment.
    Approve,
    /// Reject it: no adjustment.
    Reject,
    /// Ask for another recount.
    RequestRecount,
    /// Acknowledge the exception (stops the acknowledge SLA).
    Acknowledge,
    /// Mark it resolved.
    Resolve,
    /// Put it on hold (the hold reason in `reason_code`: `AWAITING_VENDOR`, `AWAITING_IT`,
    /// `AWAITING_CARRIER`, `AWAITING_QUALITY`).
    Hold,
    /// Release it from hold, back to the status it had before.
    Release,
    /// Cancel it (duplicate, raised in error).
    Cancel,
}

/// A human decision coming back from an approval tool (`approvals`).
///
/// Keyed like the canonical topics so the detect task that owns the exception sees it in order
/// with the stock events of the same item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// Common header; `operator_id` is not used, `actor` is.
    pub header: EventHeader,
    /// Exception decided on.
    pub exception_id: String,
    /// The APPROVAL_REQUEST action this decision answers, when it answers one.
    pub approval_request_id: Option<String>,
    /// Verdict.
    pub verdict: ApprovalVerdict,
    /// Person who decided.
    pub actor: String,
    /// Role or group the actor decided as (`SUPERVISOR`, `FINANCE_CONTROLLER`, ...).
    pub actor_role: Option<String>,
    /// Free-text comment.
    pub comment: Option<String>,
    /// Reason code for an approved adjustment (EDIFACT 4499 or SAP movement reason).
    pub reason_code: Option<String>,
    /// SKU the exception is about (so the decision is keyed like the canonical topics).
    pub sku: String,
}

/// Any canonical event, tagged by its topic.
///
/// In JSON (the `invex replay` line format) it is `{"topic": "wh.count", "value": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "topic", content = "value")]
pub enum CanonicalEvent {
    /// `wh.scan`.
    #[serde(rename = "wh.scan")]
    Scan(ScanEvent),
    /// `wh.receipt`.
    #[serde(rename = "wh.receipt")]
    Receipt(ReceiptLine),
    /// `wh.pick`.
    #[serde(rename = "wh.pick")]
    Pick(PickEvent),
    /// `wh.count`.
    #[serde(rename = "wh.count")]
    Count(CountEvent),
    /// `wh.task`.
    #[serde(rename = "wh.task")]
    Task(TaskEvent),
    /// `erp.asn`.
    #[serde(rename = "erp.asn")]
    Asn(AsnLine),
    /// `erp.book`.
    #[serde(rename = "erp.book")]
    Book(BookSnapshot),
    /// `oms.allocation`.
    #[serde(rename = "oms.allocation")]
    Allocation(OrderAllocation),
    /// `integration.ack`.
    #[serde(rename = "integration.ack")]
    Ack(IntegrationAck),
    /// `md.item`.
    #[serde(rename = "md.item")]
    Item(ItemMaster),
    /// `approvals`.
    #[serde(rename = "approvals")]
    Approval(ApprovalDecision),
}

impl CanonicalEvent {
    /// The header of whichever event this is.
    pub fn header(&self) -> &EventHeader {
        match self {
            Self::Scan(e) => &e.header,
            Self::Receipt(e) => &e.header,
            Self::Pick(e) => &e.header,
            Self::Count(e) => &e.header,
            Self::Task(e) => &e.header,
            Self::Asn(e) => &e.header,
            Self::Book(e) => &e.header,
            Self::Allocation(e) => &e.header,
            Self::Ack(e) => &e.header,
            Self::Item(e) => &e.header,
            Self::Approval(e) => &e.header,
        }
    }

    /// The common header, to change (tests, simulators and the normalizer's dedupe hash).
    pub fn header_mut(&mut self) -> &mut EventHeader {
        match self {
            Self::Scan(e) => &mut e.header,
            Self::Receipt(e) => &mut e.header,
            Self::Pick(e) => &mut e.header,
            Self::Count(e) => &mut e.header,
            Self::Task(e) => &mut e.header,
            Self::Asn(e) => &mut e.header,
            Self::Book(e) => &mut e.header,
            Self::Allocation(e) => &mut e.header,
            Self::Ack(e) => &mut e.header,
            Self::Item(e) => &mut e.header,
            Self::Approval(e) => &mut e.header,
        }
    }

    /// The SKU the event is about (the last part of its key).
    pub fn sku(&self) -> &str {
        match self {
            Self::Scan(e) => &e.sku,
            Self::Receipt(e) => &e.sku,
            Self::Pick(e) => &e.sku,
            Self::Count(e) => &e.sku,
            Self::Task(e) => &e.sku,
            Self::Asn(e) => &e.sku,
            Self::Book(e) => &e.sku,
            Self::Allocation(e) => &e.sku,
            Self::Ack(e) => &e.sku,
            Self::Item(e) => &e.sku,
            Self::Approval(e) => &e.sku,
        }
    }

    /// The canonical topic the event belongs on.
    pub fn topic(&self) -> crate::CanonicalTopic {
        use crate::CanonicalTopic as T;
        match self {
            Self::Scan(_) => T::Scan,
            Self::Receipt(_) => T::Receipt,
            Self::Pick(_) => T::Pick,
            Self::Count(_) => T::Count,
            Self::Task(_) => T::Task,
            Self::Asn(_) => T::Asn,
            Self::Book(_) => T::Book,
            Self::Allocation(_) => T::Allocation,
            Self::Ack(_) => T::Ack,
            Self::Item(_) => T::Item,
            Self::Approval(_) => T::Approvals,
        }
    }

    /// The partition key this event must be produced with.
    pub fn partition_key(&self) -> crate::PartitionKey {
        let h = self.header();
        crate::PartitionKey::new(h.tenant_id.clone(), h.site_id.clone(), self.sku())
    }
}
