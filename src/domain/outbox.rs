//! The outboxes' shared lifecycle: a text or a WeChat message is a row committed with the change
//! it tells about, then sent by its job.

super::words::stored_word! {
    /// A row of either outbox (texts, WeChat messages): queued (again, after a transient refusal) → sending (claimed by one sender)
    /// → sent, failed, or uncertain (a sender stopped mid-send; never sent twice).
    pub enum OutboxStatus {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
        Uncertain => "uncertain",
    }
}
