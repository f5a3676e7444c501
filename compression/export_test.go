package compression

// RaceEnabled exports raceEnabled to the black-box tests.
const RaceEnabled = raceEnabled
