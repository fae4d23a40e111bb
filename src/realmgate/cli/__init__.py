"""The ``realmgate`` command. One module per command group; ``main`` wires them."""
