"""The dashboard's widgets, one a module. Each draws from a DashboardState on `show(state)`."""
