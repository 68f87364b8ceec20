"""`make demo` (`python -m demo`): the whole chain on the CPU, as the CLIs a user types.

``demo.cli`` runs the steps (tiny model, generate, collect, convert, train, evaluate, report);
``demo.report`` writes ``REPORT.md`` from the results.json files. It sits above every other
package: it only runs their command lines and reads what they write.
"""
