"""Lightning training: the module (SEDD loss, EMA, AdamW + warm-up), the datamodule and the runner."""
