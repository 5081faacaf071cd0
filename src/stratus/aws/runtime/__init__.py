"""What every deployed function runs: the entry point (``entry``), the port adapters (``kinds``), and the one
translation of botocore's errors (``errors``). Nothing here imports the local provider or the deploy tooling."""
