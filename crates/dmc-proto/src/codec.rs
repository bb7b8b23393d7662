//! The codec of every generated client and server (`codec_path` in
//! `build.rs`): tonic-prost's [`ProstCodec`](tonic_prost::ProstCodec)
//! encoding and decoding, except that a request body that is not valid
//! protobuf is answered `INVALID_ARGUMENT` with a short message naming the
//! message type, instead of tonic-prost's `INTERNAL`: the fault is the
//! client's, and `INTERNAL` would read as a server bug.
//!
//! The side that decodes is known from the message type ([`RpcMessage`]): a
//! server decodes requests, a client decodes responses. A response that does
//! not decode keeps tonic-prost's `INTERNAL` status, so clients see what
//! they always saw.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::{ProstDecoder, ProstEncoder};

/// A message that is the input or output of an RPC of this crate's
/// services. A new RPC's messages must be listed in the `rpc_messages!`
/// call below, or the generated code does not compile.
pub trait RpcMessage: Message + Default + Send + 'static {
    /// The proto message name, for error messages.
    const NAME: &'static str;
    /// `true` for a request (decoded by a server), `false` for a response
    /// (decoded by a client).
    const IS_REQUEST: bool;
}

macro_rules! rpc_messages {
    ($($ty:ty => $name:literal, $request:literal;)*) => {
        $(impl RpcMessage for $ty {
            const NAME: &'static str = $name;
            const IS_REQUEST: bool = $request;
        })*
    };
}

rpc_messages! {
    crate::ecrpc::RegisterMissionControlRequest => "ecrpc.RegisterMissionControlRequest", true;
    crate::ecrpc::RegisterMissionControlResponse => "ecrpc.RegisterMissionControlResponse", false;
    crate::ecrpc::QueryAggregatedMissionControlRequest => "ecrpc.QueryAggregatedMissionControlRequest", true;
    crate::ecrpc::QueryAggregatedMissionControlResponse => "ecrpc.QueryAggregatedMissionControlResponse", false;
    crate::dmc::coordinator::v2::SignedRegistration => "dmc.coordinator.v2.SignedRegistration", true;
    crate::dmc::coordinator::v2::RegisterResponse => "dmc.coordinator.v2.RegisterResponse", false;
    crate::dmc::coordinator::v2::QueryRequest => "dmc.coordinator.v2.QueryRequest", true;
    crate::dmc::coordinator::v2::QueryResponse => "dmc.coordinator.v2.QueryResponse", false;
}

/// The status for a message of type `U` that did not decode; `status` is
/// tonic-prost's (`INTERNAL`, with prost's error text, which names only
/// fields and a fixed description, never the input bytes).
pub fn decode_error<U: RpcMessage>(status: Status) -> Status {
    if U::IS_REQUEST {
        Status::invalid_argument(format!(
            "malformed request: not a valid {}: {}",
            U::NAME,
            status.message()
        ))
    } else {
        status
    }
}

/// [`tonic_prost::ProstCodec`] with request decode errors as `INVALID_ARGUMENT`.
#[derive(Debug, Clone)]
pub struct DmcCodec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for DmcCodec<T, U> {
    fn default() -> Self {
        DmcCodec { _pd: PhantomData }
    }
}

impl<T, U> Codec for DmcCodec<T, U>
where
    T: Message + Send + 'static,
    U: RpcMessage,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = DmcDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        DmcDecoder(ProstDecoder::default())
    }
}

/// tonic-prost's decoder, its errors passed through [`decode_error`].
#[derive(Debug, Clone, Default)]
pub struct DmcDecoder<U>(ProstDecoder<U>);

impl<U: RpcMessage> Decoder for DmcDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(decode_error::<U>)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dmc::coordinator::v2 as pb;
    use crate::ecrpc;
    use tonic::Code;

    fn prost_status<U: RpcMessage + std::fmt::Debug>(bytes: &[u8]) -> Status {
        // What tonic-prost's decoder returns for these bytes.
        let e = U::decode(bytes).expect_err("malformed");
        Status::internal(e.to_string())
    }

    #[test]
    fn request_decode_errors_are_invalid_argument() {
        let s = decode_error::<pb::SignedRegistration>(prost_status::<pb::SignedRegistration>(&[0xff, 0xff, 0xff]));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(
            s.message()
                .starts_with("malformed request: not a valid dmc.coordinator.v2.SignedRegistration: "),
            "{}",
            s.message()
        );
        let s = decode_error::<ecrpc::RegisterMissionControlRequest>(prost_status::<
            ecrpc::RegisterMissionControlRequest,
        >(&[0x0a, 0x05, 0x01]));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(
            s.message().contains("ecrpc.RegisterMissionControlRequest"),
            "{}",
            s.message()
        );
    }

    #[test]
    fn response_decode_errors_stay_internal() {
        let s = decode_error::<pb::RegisterResponse>(prost_status::<pb::RegisterResponse>(&[0x80]));
        assert_eq!(s.code(), Code::Internal);
        let s = decode_error::<ecrpc::QueryAggregatedMissionControlResponse>(Status::internal("x"));
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(s.message(), "x");
    }
}
