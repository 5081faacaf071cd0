"""DynamoDB: tables on SQLite (``table``) and the DAX-style cache in front of them (``dax``)."""
