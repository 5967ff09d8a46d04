import { describe, expect, it } from 'vitest';
import { cvssScore } from './cvss.js';

// Expected scores: the FIRST examples everybody knows (9.8, 7.5, 9.3) plus vectors taken from the
// test tables of RedHatProductSecurity/cvss (tests/vectors_simple2, vectors_simple31, vectors_simple4),
// whose values were checked against FIRST's own calculators.
describe('advisories/cvss', () => {
  it.each`
    vector                                                                   | version  | baseScore | severity
    ${'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'}                        | ${'3.1'} | ${9.8}    | ${'critical'}
    ${'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'}                        | ${'3.0'} | ${9.8}    | ${'critical'}
    ${'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N'}                        | ${'3.1'} | ${6.1}    | ${'medium'}
    ${'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H'}                        | ${'3.1'} | ${9.9}    | ${'critical'}
    ${'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:N/A:N'}                        | ${'3.1'} | ${4.9}    | ${'medium'}
    ${'CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N'}                        | ${'3.1'} | ${3.5}    | ${'low'}
    ${'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N'}                        | ${'3.1'} | ${0}      | ${'negligible'}
    ${'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L'}                        | ${'3.1'} | ${5.3}    | ${'medium'}
    ${'AV:N/AC:L/Au:N/C:P/I:P/A:P'}                                          | ${'2.0'} | ${7.5}    | ${'high'}
    ${'(AV:N/AC:L/Au:N/C:P/I:P/A:P)'}                                        | ${'2.0'} | ${7.5}    | ${'high'}
    ${'CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P'}                                 | ${'2.0'} | ${7.5}    | ${'high'}
    ${'AV:L/AC:H/Au:M/C:P/I:C/A:C'}                                          | ${'2.0'} | ${5.6}    | ${'medium'}
    ${'AV:L/AC:M/Au:N/C:P/I:N/A:P'}                                          | ${'2.0'} | ${3.3}    | ${'low'}
    ${'AV:L/AC:L/Au:N/C:C/I:C/A:C'}                                          | ${'2.0'} | ${7.2}    | ${'high'}
    ${'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'}     | ${'4.0'} | ${9.3}    | ${'critical'}
    ${'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:L/SC:N/SI:H/SA:L'}     | ${'4.0'} | ${9.2}    | ${'critical'}
    ${'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:L/VI:N/VA:N/SC:L/SI:N/SA:L'}     | ${'4.0'} | ${5.3}    | ${'medium'}
    ${'CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:N/SA:N'}     | ${'4.0'} | ${2.1}    | ${'low'}
    ${'CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:A/VC:N/VI:N/VA:N/SC:N/SI:H/SA:N'}     | ${'4.0'} | ${4}      | ${'medium'}
    ${'CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:L/SC:H/SI:H/SA:H'}     | ${'4.0'} | ${9.3}    | ${'critical'}
    ${'CVSS:4.0/AV:N/AC:L/AT:P/PR:H/UI:A/VC:N/VI:L/VA:L/SC:L/SI:N/SA:N'}     | ${'4.0'} | ${1.8}    | ${'low'}
    ${'CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:A/VC:L/VI:L/VA:H/SC:H/SI:N/SA:N'}     | ${'4.0'} | ${8.2}    | ${'high'}
    ${'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N'}     | ${'4.0'} | ${0}      | ${'negligible'}
    ${'  CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H  '}                    | ${'3.1'} | ${9.8}    | ${'critical'}
    ${'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C'}          | ${'3.1'} | ${9.8}    | ${'critical'}
    ${'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U'} | ${'4.0'} | ${9.3}    | ${'critical'}
  `('cvssScore($vector) is $baseScore ($severity)', ({ vector, version, baseScore, severity }) => {
    expect(cvssScore(vector)).toEqual({ version, vector: vector.trim(), baseScore, severity });
  });

  it.each`
    vector                                                          | why
    ${''}                                                           | ${'empty'}
    ${'garbage'}                                                    | ${'not a vector'}
    ${'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H'}                   | ${'base metric A missing'}
    ${'CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'}               | ${'base metric not defined'}
    ${'CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'}               | ${'unknown value'}
    ${'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:Q'}          | ${'unknown metric'}
    ${'CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'}          | ${'metric twice'}
    ${'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/'}              | ${'empty part'}
    ${'CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'}               | ${'unknown version'}
    ${'AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'}                        | ${'v3 without prefix'}
    ${'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N'} | ${'v4 base metric SA missing'}
    ${'AV:N/AC:L/Au:N/C:P/I:P/A:ND'}                                | ${'v2 base metric not defined'}
  `('cvssScore($vector) is null: $why', ({ vector }) => {
    expect(cvssScore(vector)).toBeNull();
  });
});
