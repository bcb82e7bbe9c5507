//! The money flows and access, each with the few things it needs (the database, the providers,
//! the catalog, the clock passed in) rather than the whole application state. Handlers parse the
//! request, call one service and render; jobs call the same services.
//!
//! - `checkout`: an order for a course (or a free course claimed at once).
//! - `fulfilment`: a provider's notification turned into a paid order, a settled refund or a
//!   recorded complaint, exactly once.
//! - `refunds`: what the policy allows now (`assess`), approving, and sending to the provider.

pub mod checkout;
pub mod confirm;
pub mod fulfilment;
pub mod oa_notices;
pub mod refunds;
