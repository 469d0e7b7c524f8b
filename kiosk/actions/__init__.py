"""What an operator does to the records (add, edit, extend, suspend or erase a person; attendance rows;
dates as typed), shared by the command line (kiosk.commands) and the web console (kiosk.web.admin), which
sit above it. Errors are one-line `CommandError`s for either to show."""
