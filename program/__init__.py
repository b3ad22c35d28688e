"""What `__main__.py` runs beside the components: the resource transforms it registers with the
engine (`transforms.py`), the switches of the local target and the offline render
(`local_target.py`), and every private API of the Pulumi SDKs the project uses (`sdk.py`)."""
