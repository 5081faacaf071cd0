"""SES: mail to an outbox folder of .eml files, or to an SMTP server (``mailers``)."""
