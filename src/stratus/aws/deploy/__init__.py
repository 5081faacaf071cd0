"""What builds and ships an app to AWS, never shipped itself: synthesis (``synth`` and a module per kind in
``kinds``), the Lambda asset (``bundle``), least-privilege policies (``permissions``), deployment (``deployer``)."""
