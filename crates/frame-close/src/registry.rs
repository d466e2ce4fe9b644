//! Frame inputs whose registry comes from the OperatorRegistry contract.
//!
//! Every member must read the same registry, so it is read pinned at the frame's
//! **reference block**: the execution block carried in the payload of the last non-empty
//! beacon slot of the frame (DESIGN §3). Registry validators are keyed by public key; their
//! beacon indices come from the beacon node's state at that same slot, so a deposit
//! processed later cannot change the report. The rest of the frame's inputs (facts,
//! rewards source, SSV price, adjustments) still come from the frame-inputs file.

use crate::{BoxFuture, FrameCloseError, InputFiles, InputsSource, InputsStatus};
use claystack_beacon::BeaconClient;
use claystack_execution::{to_rewards_registry, RegistryReader};
use claystack_primitives::{hex, Epoch};
use claystack_report::ExternalInputs;
use claystack_rewards::Registry;
use std::collections::BTreeMap;

/// Registry from the chain at the reference block, everything else from files.
pub struct OnchainRegistryInputs {
    file: InputFiles,
    chain: RegistryAtReference,
}

impl OnchainRegistryInputs {
    pub fn new(file: InputFiles, chain: RegistryAtReference) -> OnchainRegistryInputs {
        OnchainRegistryInputs { file, chain }
    }

    async fn inputs(&self, number: u64, frame: (Epoch, Epoch)) -> Result<InputsStatus, FrameCloseError> {
        let Some(mut file) = self.file.read(number, frame)? else {
            return Ok(InputsStatus::Waiting(self.file.missing(number)));
        };
        check_no_registry(number, &file)?;
        match self.chain.registry(number, frame).await? {
            Ok(registry) => {
                file.registry = registry;
                Ok(InputsStatus::Ready(Box::new(file)))
            }
            Err(waiting) => Ok(InputsStatus::Waiting(waiting)),
        }
    }
}

/// Reads a frame's registry: the OperatorRegistry at the reference block, beacon indices at
/// the reference slot.
pub struct RegistryAtReference {
    beacon: BeaconClient,
    registry: RegistryReader,
}

impl RegistryAtReference {
    pub fn new(beacon: BeaconClient, registry: RegistryReader) -> RegistryAtReference {
        RegistryAtReference { beacon, registry }
    }

    /// The last non-empty slot of `frame` and its execution block number.
    pub async fn reference(&self, number: u64, frame: (Epoch, Epoch)) -> Result<(u64, u64), FrameCloseError> {
        let spec = self.beacon.spec().await.map_err(|e| source(number, format!("beacon spec: {e}")))?;
        let first = frame.0 * spec.slots_per_epoch;
        let mut slot = (frame.1 + 1) * spec.slots_per_epoch - 1;
        loop {
            let block =
                self.beacon.block(slot).await.map_err(|e| source(number, format!("beacon block {slot}: {e}")))?;
            if let Some(b) = block {
                return Ok((slot, b.execution.block_number));
            }
            if slot == first {
                return Err(source(
                    number,
                    format!("no beacon block in epochs {}..={}; no reference block", frame.0, frame.1),
                ));
            }
            slot -= 1;
        }
    }

    /// The registry at report `number`'s reference block, or why it cannot be read yet
    /// (the execution node has not reached the block).
    pub async fn registry(
        &self,
        number: u64,
        frame: (Epoch, Epoch),
    ) -> Result<Result<Registry, String>, FrameCloseError> {
        let (slot, block) = self.reference(number, frame).await?;
        let latest = self.registry.rpc().block_number().await.map_err(|e| source(number, e.to_string()))?;
        if latest < block {
            return Ok(Err(format!(
                "the execution chain is at block {latest}; report {number} reads the registry at block {block} \
                 (beacon slot {slot}); waiting for it"
            )));
        }
        let snapshot = self.registry.snapshot(block).await.map_err(|e| source(number, e.to_string()))?;
        let pubkeys: Vec<[u8; 48]> = snapshot.validators.iter().map(|v| v.pubkey).collect();
        let records = self
            .beacon
            .validators_by_pubkey(&slot.to_string(), &pubkeys)
            .await
            .map_err(|e| source(number, format!("beacon validators at slot {slot}: {e}")))?;
        let mut index_of = BTreeMap::new();
        for r in records {
            let key: [u8; 48] = hex::decode(&r.pubkey)
                .ok()
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| source(number, format!("beacon validator {} has pubkey {:?}", r.index, r.pubkey)))?;
            index_of.insert(key, r.index);
        }
        let registry = to_rewards_registry(&snapshot, &index_of);
        tracing::info!(
            report = number,
            block,
            slot,
            operators = registry.registry.operators.len(),
            validators = registry.registry.validators.len(),
            unindexed = registry.unindexed.len(),
            "registry read from the OperatorRegistry"
        );
        Ok(Ok(registry.registry))
    }
}

/// With the registry read from the chain, a registry in the file would be a second source.
pub fn check_no_registry(number: u64, file: &ExternalInputs) -> Result<(), FrameCloseError> {
    if !file.registry.operators.is_empty() || !file.registry.validators.is_empty() {
        return Err(source(
            number,
            "the frame-inputs file holds a registry, but the registry is read from the OperatorRegistry \
             (an execution RPC is given); remove \"registry\" from the file"
                .into(),
        ));
    }
    Ok(())
}

impl InputsSource for OnchainRegistryInputs {
    fn frame_inputs(&self, number: u64, frame: (Epoch, Epoch)) -> BoxFuture<'_, Result<InputsStatus, FrameCloseError>> {
        Box::pin(self.inputs(number, frame))
    }
}

fn source(number: u64, message: String) -> FrameCloseError {
    FrameCloseError::Source { number, message }
}
