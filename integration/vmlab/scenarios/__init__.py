"""Guest scenarios: `integration.vmlab.scenarios.<name>` with `run(lab)`.

See `integration.vmlab.guest.lab` for the contract. Adding a module here is
enough: the project layer of the guest image carries the whole `integration`
package, so a new scenario needs no rebuild of the cached base image.
"""
