"""S3: objects on files and SQLite (``model``), the S3 REST protocol (``wire*``), and the handlers' port (``port``)."""
